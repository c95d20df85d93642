// Ending containers without a daemon: signal the container's pid 1 from
// outside (we own its user namespace, so kill(2) is allowed), then watch
// state.json — which the reconciler keeps true from the monitor's exit file —
// until it says exited.
import { promises as fs, readFileSync, readlinkSync, watch, type FSWatcher } from 'node:fs';
import { TsboxError } from '../errors.js';
import type { ContainerStore } from '../runtime/containers.js';
import { noSuchContainer } from './lookup.js';
import { parseSignal, SIGKILL, type Signal } from './signals.js';
import { isActive, isAlive, readState, runtimePaths, updateState, type ContainerState } from './state.js';

/** How long a container has to go once SIGKILL was sent (the monitor then writes its exit file). */
const KILL_WAIT_MS = 15_000;
/** How long to wait for a container that is starting to report its pid. */
const PID_WAIT_MS = 5_000;
const POLL_MS = 50;

const ENDING = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT']);

export class ContainerStateError extends TsboxError {}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: fields follow its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return 0;
  }
}

function pidNamespace(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/**
 * True when `state.Pid` is still the container's pid 1: its monitor is the
 * process recorded (pid and start time), the pid descends from it (G is the
 * monitor's grandchild: P → C → G) and it lives in a pid namespace other than
 * ours. A pid reused by an unrelated process fails one of these.
 */
export function ownsPid(state: ContainerState): boolean {
  if (state.Pid <= 0 || !isAlive(state.MonitorPid, state.MonitorStart)) return false;
  let ancestor = state.Pid;
  let descends = false;
  for (let hops = 0; hops < 4 && ancestor > 1; hops++) {
    ancestor = parentOf(ancestor);
    if (ancestor === state.MonitorPid) {
      descends = true;
      break;
    }
  }
  if (!descends) return false;
  const theirs = pidNamespace(state.Pid);
  return theirs !== undefined && theirs !== pidNamespace('self');
}

function notRunning(id: string, state: ContainerState, action: string): ContainerStateError {
  return new ContainerStateError(`can only ${action} running containers. ${id} is in state ${state.Status}: container state improper`);
}

/** The active state with a pid, waiting a little for a container still starting; undefined once it is not active. */
async function activeWithPid(containers: ContainerStore, id: string): Promise<ContainerState | undefined> {
  const deadline = Date.now() + PID_WAIT_MS;
  for (;;) {
    const state = await readState(containers, id);
    if (!isActive(state)) return undefined;
    if (state.Pid > 0) return state;
    if (Date.now() > deadline) {
      throw new ContainerStateError(`container ${id} is ${state.Status} but has no process recorded`, {
        hint: 'its start may have failed; see `tsbox ps -a`',
      });
    }
    await sleep(POLL_MS);
  }
}

/**
 * Sends `signal` to the container's pid 1. Returns false when the container
 * exited meanwhile (nothing to signal any more).
 */
async function sendSignal(state: ContainerState, id: string, signal: Signal): Promise<boolean> {
  if (!ownsPid(state)) {
    // the container (or its monitor) may just have gone: the caller's readState decides
    if (!isAlive(state.MonitorPid, state.MonitorStart) || parentOf(state.Pid) === 0) return false;
    throw new ContainerStateError(`container ${id}: pid ${state.Pid} is no longer the container's process`, {
      hint: 'the state is out of date; try again',
    });
  }
  try {
    process.kill(state.Pid, signal.number);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw new ContainerStateError(`sending ${signal.name} to container ${id} (pid ${state.Pid}): ${(err as Error).message}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves once the container is no longer active (its state, reconciled),
 * or undefined after `timeoutMs` (undefined: no bound). Polls every
 * `intervalMs`, and sooner when the monitor's runtime directory changes (its
 * exit file appearing).
 */
export async function waitForExit(
  containers: ContainerStore,
  id: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<ContainerState | undefined> {
  return waitUntil(containers, id, (s) => !isActive(s), options);
}

/** Resolves with the first state that satisfies `done`, or undefined after the timeout. */
export async function waitUntil(
  containers: ContainerStore,
  id: string,
  done: (state: ContainerState) => boolean,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<ContainerState | undefined> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? POLL_MS;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(runtimePaths(id).dir, () => wake?.());
    watcher.on('error', () => {});
  } catch {
    // no runtime dir (a foreground or never-started container): polling alone
  }
  try {
    for (;;) {
      const state = await readState(containers, id);
      // a removed container reads as `created`: only one whose config is still there counts
      if (!(await containerExists(containers, id))) throw noSuchContainer(id);
      if (done(state)) return state;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(interval, left));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}

/** Records that this exit was asked for (the restart policy must not undo it); `stopping` marks a stop under way. */
async function markStopRequested(containers: ContainerStore, id: string, stopping: boolean): Promise<void> {
  await updateState(containers, id, (current) =>
    isActive(current) ? { ...current, StopRequested: true, ...(stopping && current.Status === 'running' ? { Status: 'stopping' as const } : {}) } : current,
  );
}

/** `kill`: sends `signal` to a running container; refuses one that is not running (podman's wording). */
export async function killContainer(containers: ContainerStore, id: string, signal: Signal): Promise<void> {
  const state = await activeWithPid(containers, id);
  if (!state) throw notRunning(id, await readState(containers, id), 'kill');
  // a signal meant to end the container: the restart policy must not bring it back
  const stopSignal = parseSignal((await containers.read(id))?.Run?.StopSignal || 'SIGTERM');
  if (ENDING.has(signal.name) || signal.number === stopSignal.number) await markStopRequested(containers, id, false);
  if (!(await sendSignal(state, id, signal))) {
    const now = await readState(containers, id);
    if (!isActive(now)) throw notRunning(id, now, 'kill');
  }
}

export interface StopOptions {
  /** seconds to wait after the stop signal before SIGKILL; default the container's StopTimeout, else 10 */
  timeout?: number;
  /** the stop signal; default the container's StopSignal, else SIGTERM */
  signal?: Signal;
  /** where `resorting to SIGKILL` goes */
  warn?: (message: string) => void;
}

/**
 * Stops a container: its stop signal, up to `timeout` seconds for it to go,
 * then SIGKILL. A container that is not running is left as it is (stop is
 * idempotent, as podman's). Resolves to the final state.
 */
export async function stopContainer(containers: ContainerStore, id: string, options: StopOptions = {}): Promise<ContainerState> {
  const record = await containers.read(id);
  const name = record?.Name ?? id;
  const timeout = options.timeout ?? record?.Run?.StopTimeout ?? 10;
  const signal = options.signal ?? parseSignal(record?.Run?.StopSignal || 'SIGTERM');
  const state = await activeWithPid(containers, id);
  if (!state) return readState(containers, id);
  await markStopRequested(containers, id, true);
  if (timeout > 0 && signal.number !== SIGKILL.number) {
    if (await sendSignal(state, id, signal)) {
      const exited = await waitForExit(containers, id, { timeoutMs: timeout * 1000 });
      if (exited) return exited;
      options.warn?.(`StopSignal ${signal.name} failed to stop container ${name} in ${timeout} seconds, resorting to SIGKILL`);
    }
  }
  return killAndWait(containers, id);
}

/** SIGKILL and a bounded wait for the exit to be recorded. */
export async function killAndWait(containers: ContainerStore, id: string): Promise<ContainerState> {
  const state = await activeWithPid(containers, id);
  if (!state) return readState(containers, id);
  await markStopRequested(containers, id, true);
  await sendSignal(state, id, SIGKILL);
  const exited = await waitForExit(containers, id, { timeoutMs: KILL_WAIT_MS });
  if (exited) return exited;
  throw new ContainerStateError(`container ${id} did not exit within ${KILL_WAIT_MS / 1000} seconds of SIGKILL`, {
    hint: `its monitor is pid ${state.MonitorPid}`,
  });
}

/** Whether `id` still has a config.json (it may be removed while we wait). */
export async function containerExists(containers: ContainerStore, id: string): Promise<boolean> {
  try {
    await fs.access(containers.paths(id).config);
    return true;
  } catch {
    return false;
  }
}
