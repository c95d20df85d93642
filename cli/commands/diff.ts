import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.js';

export class DiffCommand extends BaseCommand {
  static override paths = [['diff'], ['container', 'diff']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: "inspect changes to the container's file systems",
    details: `
      Lists what the container changed compared with its image, one path a line: \`A\` added, \`C\` changed (a directory is changed when something in it is), \`D\` deleted; sorted by path. Running and stopped containers alike. The mount points every container gets (/etc/hosts, /etc/resolv.conf, /etc/hostname, /dev, /proc, /sys, /run) are left out, as podman does.
    `,
    examples: [
      ['What a container changed', '$0 diff web'],
      ['As JSON', '$0 diff --format json web'],
    ],
  });

  format = Option.String('--format', { description: 'Change the output format (json)' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  name = Option.String({ name: 'CONTAINER', required: false });

  async execute(): Promise<number> {
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { resolveContainer, latestContainer } = await import('../../core/container/lookup.js');
    const { containerChanges, changesJson } = await import('../../core/container/diff.js');

    if (this.format !== undefined && this.format !== 'json') throw new UsageError(`only "json" is supported as a format, not ${JSON.stringify(this.format)}`);
    if (this.latest && this.name !== undefined) throw new UsageError('--latest and a container cannot be used together');
    if (!this.latest && this.name === undefined) throw new UsageError('diff requires a container name or ID, or --latest');
    const containers = new ContainerStore();
    const id = this.latest ? await latestContainer(containers) : await resolveContainer(containers, this.name!);
    const changes = await containerChanges(containers, id);
    if (this.format === 'json') this.context.stdout.write(`${JSON.stringify(changesJson(changes), null, 4)}\n`);
    else this.context.stdout.write(changes.map((c) => `${c.kind} ${c.path}\n`).join(''));
    return 0;
  }
}
