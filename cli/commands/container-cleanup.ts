import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

/** Run by a container's monitor once the container has exited (podman's `container cleanup`). */
export class ContainerCleanupCommand extends BaseCommand {
  static override paths = [['container', 'cleanup']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'clean up after a container has exited (run by its monitor)',
    details: `
      Records the exit, stops the container's network, removes a --rm container, and starts again one whose --restart policy says so. tsbox's monitor runs this; running it by hand is harmless.
    `,
    examples: [['Clean up after an exited container by hand', '$0 container cleanup web']],
  });

  names = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const [{ ContainerStore }, { resolveContainer }, { cleanupContainer }, { startContainer }, { containerSeccomp }, { createReporter }] = await Promise.all([
      import('../../core/runtime/containers.js'),
      import('../../core/container/lookup.js'),
      import('../../core/container/cleanup.js'),
      import('../../core/runtime/detached.js'),
      import('../../core/runtime/seccomp.js'),
      import('../reporter.js'),
    ]);
    const containers = new ContainerStore();
    const reporter = createReporter({ quiet: false, stderr: this.context.stderr });
    for (const name of this.names) {
      let id: string;
      try {
        id = await resolveContainer(containers, name);
      } catch {
        continue; // removed already
      }
      await cleanupContainer(containers, id, {
        reporter,
        restart: (restartId, restartCount) => startContainer(containers, restartId, { reporter, seccomp: containerSeccomp, restartCount }),
      });
    }
    return 0;
  }
}
