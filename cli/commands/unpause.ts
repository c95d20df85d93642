import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class UnpauseCommand extends BaseCommand {
  static override paths = [['unpause'], ['container', 'unpause']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'unpause the processes in one or more containers',
    details: `
      Thaws containers frozen by \`pause\`, through the cgroup v2 freezer. tsbox does not create per-container cgroups yet, so no container can be paused and \`unpause\` reports what is missing on this host and exits with 125.
    `,
    examples: [['Unpause a container', '$0 unpause web']],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Unpause all paused containers' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const { freezeCommand } = await import('../freeze.js');
    return freezeCommand('unpause', this.containers, { all: this.all, latest: this.latest }, this.context);
  }
}
