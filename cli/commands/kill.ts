import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class KillCommand extends BaseCommand {
  static override paths = [['kill'], ['container', 'kill']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'kill one or more running containers with a specific signal',
    details: `
      Sends SIGNAL (default SIGKILL) to the main process of each running CONTAINER and prints it as given. The signal is a name (SIGTERM, TERM) or a number. A container's pid 1 only receives the signals it has a handler for; SIGKILL always ends it.

      Exit status: 0 when every container was signalled, 125 otherwise (e.g. a container that is not running).
    `,
    examples: [
      ['Kill a container', '$0 kill web'],
      ['Send SIGHUP', '$0 kill -s HUP web'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Signal all running containers' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  signal = Option.String('-s,--signal', 'KILL', { description: 'Signal to send to the container' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const [{ ContainerStore }, { resolveTargets, checkTargetArgs }, { killContainer }, { parseSignal }, { actOnTargets }] = await Promise.all([
      import('../../core/runtime/containers.js'),
      import('../../core/container/targets.js'),
      import('../../core/container/stop.js'),
      import('../../core/container/signals.js'),
      import('../container-action.js'),
    ]);
    const signal = parseSignal(this.signal);
    checkTargetArgs(this.containers, { all: this.all, latest: this.latest });
    const store = new ContainerStore();
    const targets = await resolveTargets(store, this.containers, { all: this.all, latest: this.latest, activeOnly: true });
    return actOnTargets(targets, (id) => killContainer(store, id, signal), { stdout: this.context.stdout, stderr: this.context.stderr });
  }
}
