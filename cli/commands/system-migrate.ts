import { Command } from 'clipanion';
import { BaseCommand } from '../base.js';

export class SystemMigrateCommand extends BaseCommand {
  static override paths = [['system', 'migrate']];

  static override usage = Command.Usage({
    category: 'System',
    description: 'migrate the store to changed subordinate id ranges',
    details: `
      The store records the id mapping (from /etc/subuid and /etc/subgid) its files were made with, and tsbox refuses to use it once those ranges change. This brings the store to the current ranges:

      - when the recorded ranges are all still granted and map the same ids (a range was extended, or one added after it), nothing moves: the new mapping is recorded;
      - when they are still granted but laid out differently, every file is re-owned from its old subordinate id to the new id for the same id inside containers (modes, setuid bits and file capabilities kept);
      - when a recorded range is no longer granted, only root can re-own those files: nothing is changed, and the error says how to grant the range back for the migration, or to start over with \`tsbox system reset\`.

      Containers must be stopped first.
    `,
    examples: [['After a change to /etc/subuid', '$0 system migrate']],
  });

  async execute(): Promise<number> {
    const { currentMapping } = await import('../../core/userns/mapping.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { systemMigrate, describeRanges } = await import('../../core/system/migrate.js');
    const { userInfo } = await import('node:os');
    const mapping = currentMapping();
    let user: string;
    try {
      user = userInfo().username;
    } catch {
      user = String(process.getuid?.() ?? '');
    }
    const outcome = await systemMigrate(new ContainerStore(), mapping, { user });
    const out = this.context.stdout;
    const now = describeRanges(outcome.mapping);
    switch (outcome.kind) {
      case 'no-store':
        out.write('No store yet: nothing to migrate\n');
        break;
      case 'current':
        out.write(`The store already uses the current id mapping (${now}): nothing to migrate\n`);
        break;
      case 'rerecord':
        out.write(`The store's id ranges are all still granted and map the same ids: nothing to re-own; recorded the new mapping (${now})\n`);
        break;
      case 'reown': {
        const r = outcome.result;
        for (const w of r.warnings) this.context.stderr.write(`WARN[0000] ${w}\n`);
        out.write(`Re-owned ${r.changed} files from ${describeRanges(outcome.from)} to ${now}\n`);
        break;
      }
    }
    return 0;
  }
}
