// `rm`: a container and everything it left — its tree (files of mapped ids,
// so removed inside the user namespace when plain removal cannot), its name,
// its runtime directory, a network backend still around, and with `volumes`
// its anonymous volumes.
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { ContainerNotFoundError, removeTreeInUserNamespace, type ContainerStore } from '../runtime/containers.js';
import { removeAnonymousVolumes } from '../runtime/mounts.js';
import { ContainerStateError, containerExists, killAndWait, stopContainer } from './stop.js';
import { isActive, isAlive, readState, runtimePaths } from './state.js';

export interface RemoveOptions {
  /** a running container is killed first (SIGKILL), or stopped with `timeout` when given */
  force?: boolean;
  /** seconds to wait for the stop signal before SIGKILL (with force) */
  timeout?: number;
  /** remove the container's anonymous volumes */
  volumes?: boolean;
  warn?: (message: string) => void;
}

/** Plain removal when every file is ours; the rest from inside the user namespace. */
async function removeTree(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true });
  } catch {
    await removeTreeInUserNamespace(dir);
  }
}

export async function removeContainer(containers: ContainerStore, id: string, options: RemoveOptions = {}): Promise<void> {
  const warn = options.warn ?? (() => {});
  let state = await readState(containers, id);
  if (isActive(state)) {
    if (!options.force) {
      throw new ContainerStateError(
        `cannot remove container ${id} as it is running - running or paused containers cannot be removed without force: container state improper`,
        { exitCode: 2 },
      );
    }
    try {
      state = options.timeout === undefined ? await killAndWait(containers, id) : await stopContainer(containers, id, { timeout: options.timeout, warn });
    } catch (err) {
      // a --rm container's cleanup may remove it while we wait: then it is gone, as asked
      if (!(await containerExists(containers, id))) return;
      throw err;
    }
  }
  const record = await containers.read(id);
  // the reconciler ends the backend of an exit it records; one recorded exited by someone else may remain
  if (state.Network && isAlive(state.Network.pid, state.Network.start)) {
    try {
      process.kill(state.Network.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    // rm returns once nothing of the container is left: a killed process takes a moment to go
    // (isAlive takes a zombie for gone)
    const { pid, start } = state.Network;
    for (const deadline = Date.now() + 2000; isAlive(pid, start) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  try {
    await containers.remove(id, removeTree);
  } catch (err) {
    if (!(err instanceof ContainerNotFoundError)) throw err;
    // removed meanwhile (its own --rm cleanup, or another rm): gone, as asked
  }
  await fs.rm(runtimePaths(id).dir, { recursive: true, force: true }).catch((err: Error) => warn(`removing ${runtimePaths(id).dir}: ${err.message}`));
  if (options.volumes && record?.Run?.AnonymousVolumes?.length) {
    await removeAnonymousVolumes(record.Run.AnonymousVolumes, dirname(containers.dir), warn);
  }
}

/**
 * The leftovers of commands killed half-way (ContainerStore.sweepIncomplete),
 * with their runtime directories: for `rm --all` and the prunes, which promise
 * that no container is left.
 */
export async function removeLeftovers(containers: ContainerStore, warn: (message: string) => void = () => {}): Promise<void> {
  const swept = await containers.sweepIncomplete(removeTree);
  for (const id of swept) {
    await fs.rm(runtimePaths(id).dir, { recursive: true, force: true }).catch((err: Error) => warn(`removing ${runtimePaths(id).dir}: ${err.message}`));
  }
}
