import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class StopCommand extends BaseCommand {
  static override paths = [['stop'], ['container', 'stop']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'stop one or more running containers',
    details: `
      Sends each CONTAINER its stop signal (the image's StopSignal, else SIGTERM), waits up to \`--time\` seconds (the container's stop timeout, else 10) for it to exit, then sends SIGKILL. Containers stop in parallel; each is printed as given once it has stopped. A container that is not running is printed too (stopping it is a no-op).

      Exit status: 0 when all stopped, 1 when one of them did not exist, 125 for any other error.
    `,
    examples: [
      ['Stop a container', '$0 stop web'],
      ['Stop at once (SIGKILL)', '$0 stop -t 0 web'],
      ['Stop every running container', '$0 stop --all'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Stop all running containers' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  ignore = Option.Boolean('-i,--ignore', false, { description: 'Ignore errors when a specified container is missing' });
  time = Option.String('-t,--time', { description: 'Seconds to wait for stop before killing the container' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const { parseSeconds } = await import('../container-options.js');
    const timeout = this.time === undefined ? undefined : parseSeconds('--time', this.time);
    const [{ ContainerStore }, { resolveTargets, checkTargetArgs }, { stopContainer }, { actOnTargets }, { createReporter }] = await Promise.all([
      import('../../core/runtime/containers.js'),
      import('../../core/container/targets.js'),
      import('../../core/container/stop.js'),
      import('../container-action.js'),
      import('../reporter.js'),
    ]);
    checkTargetArgs(this.containers, { all: this.all, latest: this.latest });
    const store = new ContainerStore();
    const reporter = createReporter({ quiet: true, stderr: this.context.stderr });
    const targets = await resolveTargets(store, this.containers, { all: this.all, latest: this.latest, activeOnly: true });
    return actOnTargets(
      targets,
      async (id) => {
        await stopContainer(store, id, { ...(timeout !== undefined ? { timeout } : {}), warn: (m) => reporter.warn(m) });
      },
      { stdout: this.context.stdout, stderr: this.context.stderr, ignoreMissing: this.ignore, notFoundExitCode: 1 },
    );
  }
}
