import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class PauseCommand extends BaseCommand {
  static override paths = [['pause'], ['container', 'pause']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'pause all the processes in one or more containers',
    details: `
      Pausing freezes a container's processes with the cgroup v2 freezer, which needs the container in a cgroup of its own. tsbox does not create per-container cgroups yet, so \`pause\` reports what is missing on this host and exits with 125; it does not fake a pause with SIGSTOP.
    `,
    examples: [['Pause a container', '$0 pause web']],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Pause all running containers' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const { freezeCommand } = await import('../freeze.js');
    return freezeCommand('pause', this.containers, { all: this.all, latest: this.latest }, this.context);
  }
}
