import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class SystemResetCommand extends BaseCommand {
  static override paths = [['system', 'reset']];

  static override usage = Command.Usage({
    category: 'System',
    description: 'reset storage back to initial state',
    details: `
      Removes every container (running ones are killed first), image, layer and volume, the store directory itself with its record of the id mapping, and tsbox's runtime directory. Files that belong to subordinate ids are removed inside the user namespace. Also the way out when the id ranges changed and \`system migrate\` cannot move the files.

      Asks first unless \`--force\`; without a terminal to ask on, \`--force\` is required.
    `,
    examples: [
      ['Start from nothing, asking first', '$0 system reset'],
      ['Without asking', '$0 system reset -f'],
    ],
  });

  force = Option.Boolean('-f,--force', false, { description: 'Do not prompt for confirmation' });

  async execute(): Promise<number> {
    const { resetPaths, systemReset } = await import('../../core/system/reset.js');
    if (!this.force) {
      const { confirm } = await import('../confirm.js');
      const paths = resetPaths();
      const warning =
        'WARNING! This will remove:\n' +
        '        - all containers\n' +
        '        - all images\n' +
        '        - all volumes\n' +
        `        - the graphRoot directory: ${JSON.stringify(paths.store)}\n` +
        `        - the runRoot directory: ${JSON.stringify(paths.runtime)}\n` +
        'Are you sure you want to continue? [y/N] ';
      if (!(await confirm({ stdin: this.stdin, stdout: this.context.stdout }, warning, 'refusing to reset'))) return 0;
    }
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { createReporter } = await import('../reporter.js');
    const reporter = createReporter({ quiet: true, stderr: this.context.stderr });
    const result = await systemReset(new ContainerStore(), { warn: (m) => reporter.warn(m) });
    for (const f of result.failures) reporter.warn(`removing container ${f.id}: ${f.error.message}`);
    return 0;
  }
}
