import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class SystemPruneCommand extends BaseCommand {
  static override paths = [['system', 'prune']];

  static override usage = Command.Usage({
    category: 'System',
    description: 'remove unused containers, images and volume data',
    details: `
      Removes every stopped container, every dangling image (one without a name; with \`--all\`, every image no container was made from), with \`--volumes\` every volume no container uses, then the layers nothing uses any more and what interrupted tsbox processes left behind. Prints what went, by section, and the space freed.

      \`--filter\` takes \`until=TIME\` (an RFC 3339 time, a Unix timestamp, or a duration such as \`24h\` back from now), \`label=KEY[=VALUE]\` and \`label!=KEY[=VALUE]\`; they select the containers, images and volumes removed.

      Asks first unless \`--force\`; without a terminal to ask on, \`--force\` is required.
    `,
    examples: [
      ['Remove what is unused, asking first', '$0 system prune'],
      ['Every unused image and volume too, without asking', '$0 system prune -a --volumes -f'],
      ['Only what is older than a day', '$0 system prune -f --filter until=24h'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Remove all unused images, not just dangling ones' });
  force = Option.Boolean('-f,--force', false, { description: 'Do not prompt for confirmation' });
  volumes = Option.Boolean('--volumes', false, { description: 'Prune volumes currently unused by any container' });
  filters = Option.Array('--filter', [], { description: 'Provide filter values (until=, label=, label!=)' });

  async execute(): Promise<number> {
    const { parsePruneFilters, systemPrune } = await import('../../core/system/prune.js');
    const filters = this.filters.length > 0 ? await parsePruneFilters(this.filters) : undefined;
    if (!this.force) {
      const { confirm } = await import('../confirm.js');
      const lines = [
        '\t- all stopped containers',
        ...(this.volumes ? ['\t- all volumes not used by at least one container'] : []),
        this.all ? '\t- all images without at least one container associated with them' : '\t- all dangling images',
      ];
      const warning = `WARNING! This command removes:\n${lines.join('\n')}\n\nAre you sure you want to continue? [y/N] `;
      if (!(await confirm({ stdin: this.stdin, stdout: this.context.stdout }, warning, 'refusing to prune'))) return 0;
    }
    const { openUserStore } = await import('../open-store.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { VolumeStore } = await import('../../core/volume/volumes.js');
    const { createReporter } = await import('../reporter.js');
    const { dfSize } = await import('../../core/system/df.js');
    const reporter = createReporter({ quiet: true, stderr: this.context.stderr });
    const result = await systemPrune(
      { images: await openUserStore(), containers: new ContainerStore(), volumes: new VolumeStore() },
      { all: this.all, volumes: this.volumes, ...(filters ? { filters } : {}), warn: (m) => reporter.warn(m) },
    );
    const out = this.context.stdout;
    const section = (title: string, ids: string[]) => {
      if (ids.length > 0) out.write(`${title}\n${ids.map((id) => `${id}\n`).join('')}`);
    };
    section('Deleted Containers', result.containers);
    if (this.volumes) section('Deleted Volumes', result.volumes);
    section('Deleted Images', result.images);
    out.write(`Total reclaimed space: ${dfSize(result.reclaimed)}\n`);
    if (result.failures.length === 0) return 0;
    const { TsboxError } = await import('../../core/errors.js');
    for (const f of result.failures.slice(0, -1)) this.context.stderr.write(`Error: removing ${f.kind} ${f.id}: ${f.error.message}\n`);
    const last = result.failures[result.failures.length - 1]!;
    throw new TsboxError(`removing ${last.kind} ${last.id}: ${last.error.message}`);
  }
}
