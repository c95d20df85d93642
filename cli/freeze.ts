// pause and unpause: the container is checked as podman checks it (it exists,
// it is running, or paused for unpause), then the freezer's absence is reported.
import type { Writable } from 'node:stream';

export async function freezeCommand(
  action: 'pause' | 'unpause',
  names: string[],
  options: { all: boolean; latest: boolean },
  io: { stdout: Writable; stderr: Writable },
): Promise<number> {
  const [{ ContainerStore }, { resolveTargets, checkTargetArgs }, { readState }, { pauseUnsupported }, { ContainerStateError }, { actOnTargets }] = await Promise.all([
    import('../core/runtime/containers.js'),
    import('../core/container/targets.js'),
    import('../core/container/state.js'),
    import('../core/container/pause.js'),
    import('../core/container/stop.js'),
    import('./container-action.js'),
  ]);
  checkTargetArgs(names, options);
  const store = new ContainerStore();
  const targets = await resolveTargets(store, names, { ...options, activeOnly: true });
  if (options.all && targets.length === 0) return 0;
  return actOnTargets(
    targets,
    async (id) => {
      const state = await readState(store, id);
      const wanted = action === 'pause' ? 'running' : 'paused';
      if (state.Status !== wanted) {
        throw new ContainerStateError(
          action === 'pause'
            ? `"${id}" is not running, can't pause: container state improper`
            : `"${id}" is not paused, can't unpause: container state improper`,
        );
      }
      throw pauseUnsupported(action);
    },
    io,
  );
}
