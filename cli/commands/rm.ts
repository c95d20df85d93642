import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class RmCommand extends BaseCommand {
  static override paths = [['rm'], ['container', 'rm'], ['container', 'remove']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'remove one or more containers',
    details: `
      Removes each CONTAINER: its writable layer, its name and its runtime files, and prints it as given (the full id with \`--all\`). A running container is refused unless \`--force\`, which kills it first (SIGKILL; with \`--time\`, its stop signal and that many seconds before SIGKILL). \`--volumes\` also removes the anonymous volumes made for it.

      Exit status: 0 when all were removed, 1 when one of them did not exist, 2 when one is running (without --force), 125 for any other error.
    `,
    examples: [
      ['Remove a stopped container', '$0 rm web'],
      ['Remove a running container and its anonymous volumes', '$0 rm -fv web'],
      ['Remove every container', '$0 rm -af'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Remove all containers' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  force = Option.Boolean('-f,--force', false, { description: 'Force removal of a running container' });
  ignore = Option.Boolean('-i,--ignore', false, { description: 'Ignore errors when a specified container is missing' });
  volumes = Option.Boolean('-v,--volumes', false, { description: 'Remove anonymous volumes associated with the container' });
  depend = Option.Boolean('--depend', false, { description: 'Remove container and all containers that depend on it (tsbox has no dependencies between containers)' });
  time = Option.String('-t,--time', { description: 'Seconds to wait for stop before killing the container (with --force)' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const { parseSeconds } = await import('../container-options.js');
    const timeout = this.time === undefined ? undefined : parseSeconds('--time', this.time);
    const [{ ContainerStore }, { resolveTargets, checkTargetArgs }, { removeContainer, removeLeftovers }, { ContainerStateError }, { actOnTargets }, { createReporter }] =
      await Promise.all([
        import('../../core/runtime/containers.js'),
        import('../../core/container/targets.js'),
        import('../../core/container/remove.js'),
        import('../../core/container/stop.js'),
        import('../container-action.js'),
        import('../reporter.js'),
      ]);
    checkTargetArgs(this.containers, { all: this.all, latest: this.latest });
    const store = new ContainerStore();
    const reporter = createReporter({ quiet: true, stderr: this.context.stderr });
    const targets = await resolveTargets(store, this.containers, { all: this.all, latest: this.latest });
    const code = await actOnTargets(
      targets,
      (id) =>
        removeContainer(store, id, {
          force: this.force,
          volumes: this.volumes,
          ...(timeout !== undefined ? { timeout } : {}),
          warn: (m) => reporter.warn(m),
        }),
      {
        stdout: this.context.stdout,
        stderr: this.context.stderr,
        ignoreMissing: this.ignore,
        notFoundExitCode: 1,
        exitCodeFor: (errors) => (errors.every((e) => e instanceof ContainerStateError && e.exitCode === 2) ? 2 : undefined),
        // each removal may start a helper in the user namespace: a few at a time
        parallel: 8,
      },
    );
    // --all: nothing left either of containers a killed command half made or half removed
    if (this.all) await removeLeftovers(store, (m) => reporter.warn(m));
    return code;
  }
}
