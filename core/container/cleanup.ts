// What happens after a detached container's command has exited, run by its
// monitor as `tsbox container cleanup ID` (podman's conmon exit command):
// the exit is recorded and the network backend ended (readState's
// reconciler), then --rm removes the container, or the restart policy
// starts it again under a new monitor.
import { silentReporter, type Reporter } from '../progress.js';
import type { ContainerStore } from '../runtime/containers.js';
import type { ContainerRecord } from '../runtime/spec.js';
import { isActive, readState, type ContainerState } from './state.js';

export interface CleanupHooks {
  reporter?: Reporter;
  /** starts the container again (core/runtime/detached.ts startContainer) */
  restart(id: string, restartCount: number): Promise<void>;
}

/** podman's rules: always and unless-stopped restart any exit, on-failure a non-zero one up to its count; never one the user asked for. */
export function shouldRestart(record: ContainerRecord, state: ContainerState): boolean {
  const policy = record.Run?.RestartPolicy;
  if (!policy || policy.Name === 'no' || state.StopRequested || state.Status !== 'exited') return false;
  if (policy.Name === 'always' || policy.Name === 'unless-stopped') return true;
  return state.ExitCode !== 0 && (policy.MaximumRetryCount === 0 || state.RestartCount < policy.MaximumRetryCount);
}

/** A container that keeps failing restarts ever more slowly (up to 5 s apart), never in a tight loop. */
function restartDelayMs(restartCount: number): number {
  return Math.min(5000, 100 * 2 ** Math.min(restartCount, 6));
}

export async function cleanupContainer(containers: ContainerStore, id: string, hooks: CleanupHooks): Promise<void> {
  const reporter = hooks.reporter ?? silentReporter;
  const record = await containers.read(id);
  if (!record) return; // removed already
  const state = await readState(containers, id);
  if (isActive(state)) return; // a monitor still runs it: nothing to clean
  if (record.Run?.Remove) {
    const { removeContainer } = await import('./remove.js');
    await removeContainer(containers, id, { volumes: true, warn: (m) => reporter.warn(m) });
    return;
  }
  if (shouldRestart(record, state)) {
    await new Promise((r) => setTimeout(r, restartDelayMs(state.RestartCount)));
    // the user may have stopped or removed it meanwhile
    const now = await readState(containers, id).catch(() => undefined);
    if (!now || now.StopRequested || isActive(now) || !(await containers.read(id))) return;
    await hooks.restart(id, state.RestartCount + 1);
  }
}
