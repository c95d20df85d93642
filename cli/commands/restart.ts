import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class RestartCommand extends BaseCommand {
  static override paths = [['restart'], ['container', 'restart']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'restart one or more containers',
    details: `
      Stops each running CONTAINER as \`stop\` does (its stop signal, \`--time\` seconds, then SIGKILL), then starts it again in the background with a new process; a container that is not running is just started. Each is printed as given.

      Exit status: 0 when all restarted, 125 otherwise.
    `,
    examples: [
      ['Restart a container', '$0 restart web'],
      ['Restart the running containers', '$0 restart --running'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Restart all containers' });
  running = Option.Boolean('--running', false, { description: 'Restart only running containers (with --all)' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  time = Option.String('-t,--time', { description: 'Seconds to wait for stop before killing the container' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const { parseSeconds } = await import('../container-options.js');
    const timeout = this.time === undefined ? undefined : parseSeconds('--time', this.time);
    const [{ ContainerStore }, { resolveTargets, checkTargetArgs }, { stopContainer }, { startContainer }, { containerSeccomp }, { actOnTargets }, { createReporter }] =
      await Promise.all([
        import('../../core/runtime/containers.js'),
        import('../../core/container/targets.js'),
        import('../../core/container/stop.js'),
        import('../../core/runtime/detached.js'),
        import('../../core/runtime/seccomp.js'),
        import('../container-action.js'),
        import('../reporter.js'),
      ]);
    const all = this.all || this.running;
    checkTargetArgs(this.containers, { all, latest: this.latest });
    const store = new ContainerStore();
    const reporter = createReporter({ quiet: true, stderr: this.context.stderr });
    const targets = await resolveTargets(store, this.containers, { all, latest: this.latest, activeOnly: this.running });
    return actOnTargets(
      targets,
      async (id) => {
        await stopContainer(store, id, { ...(timeout !== undefined ? { timeout } : {}), warn: (m) => reporter.warn(m) });
        await startContainer(store, id, { reporter, seccomp: containerSeccomp });
      },
      { stdout: this.context.stdout, stderr: this.context.stderr },
    );
  }
}
