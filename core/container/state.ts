// A container's mutable state (state.json beside config.json) and the
// reconciler that keeps it true without a daemon: a container recorded as
// running whose monitor has written its exit file, or whose monitor is gone
// (kill -9, reboot), is reported — and from then on recorded — as exited.
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeDir } from '../paths.js';
import { writeFileAtomic } from '../store/atomic.js';
import { withLock } from '../store/lock.js';
import { processStartTime } from '../store/owner.js';
import type { ContainerStore } from '../runtime/containers.js';
import type { PortMapping } from '../network/publish.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'stopping' | 'exited';

export interface ContainerNetworkState {
  backend: 'pasta' | 'slirp4netns';
  pid: number;
  /** field 22 of /proc/PID/stat: a reused pid is not our backend */
  start: string;
  /** published ports, host ports assigned */
  ports: PortMapping[];
}

export interface ContainerState {
  Status: ContainerStatus;
  /** host pid of the container's pid 1 while running, else 0 */
  Pid: number;
  /** the helper process that supervises the container (the monitor when detached) */
  MonitorPid: number;
  MonitorStart: string;
  BootId: string;
  /** -1: unknown (the monitor died) */
  ExitCode: number;
  StartedAt: string;
  FinishedAt: string;
  OOMKilled: boolean;
  Error: string;
  RestartCount: number;
  /** stop/kill/rm -f asked for this exit: the restart policy does not restart */
  StopRequested: boolean;
  Network?: ContainerNetworkState;
}

export interface ExitRecord {
  exitCode: number;
  finishedAt: string;
}

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Pid: 0,
    MonitorPid: 0,
    MonitorStart: '',
    BootId: '',
    ExitCode: 0,
    StartedAt: '',
    FinishedAt: '',
    OOMKilled: false,
    Error: '',
    RestartCount: 0,
    StopRequested: false,
  };
}

/** The container's files that do not survive a reboot. */
export function runtimePaths(id: string): { dir: string; exit: string; attach: string; networkLog: string; seccomp: string } {
  const dir = join(runtimeDir(), 'tsbox', 'containers', id);
  return { dir, exit: join(dir, 'exit'), attach: join(dir, 'attach'), networkLog: join(dir, 'network.log'), seccomp: join(dir, 'seccomp.bpf') };
}

let bootId: string | undefined;
export function currentBootId(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = '';
    }
  }
  return bootId;
}

export { processStartTime };

/** True while `pid` is the process that had start time `start` (not a zombie). */
export function isAlive(pid: number, start: string): boolean {
  return pid > 0 && start !== '' && processStartTime(pid) === start;
}

function statePath(containers: ContainerStore, id: string): string {
  return `${containers.paths(id).dir}/state.json`;
}

function lockPath(containers: ContainerStore, id: string): string {
  return `${containers.paths(id).dir}/state.lock`;
}

async function readRaw(containers: ContainerStore, id: string): Promise<ContainerState> {
  try {
    // sync: small, and read for every container by ps (see ContainerStore.read)
    return { ...initialState(), ...(JSON.parse(readFileSync(statePath(containers, id), 'utf8')) as Partial<ContainerState>) };
  } catch (err) {
    // no state.json: a container made before states existed, or created and never started
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const record = await containers.read(id);
      return { ...initialState(), Status: record?.State === 'exited' ? 'exited' : 'created' };
    }
    throw err;
  }
}

export async function readExitFile(id: string): Promise<ExitRecord | undefined> {
  try {
    const parsed = JSON.parse(readFileSync(runtimePaths(id).exit, 'utf8')) as Partial<ExitRecord>;
    if (typeof parsed.exitCode !== 'number') return undefined;
    return { exitCode: parsed.exitCode, finishedAt: typeof parsed.finishedAt === 'string' ? parsed.finishedAt : new Date().toISOString() };
  } catch {
    return undefined;
  }
}

const ACTIVE: ContainerStatus[] = ['running', 'paused', 'stopping'];

/** What the recorded state really is now; `changed` when the record must be updated. */
async function reconcile(id: string, state: ContainerState): Promise<{ state: ContainerState; changed: boolean }> {
  if (!ACTIVE.includes(state.Status)) return { state, changed: false };
  const exit = await readExitFile(id);
  if (exit) {
    return { state: { ...state, Status: 'exited', Pid: 0, ExitCode: exit.exitCode, FinishedAt: exit.finishedAt }, changed: true };
  }
  const rebooted = state.BootId !== '' && state.BootId !== currentBootId();
  if (rebooted || !isAlive(state.MonitorPid, state.MonitorStart)) {
    // one last look: the monitor may have written its exit file just before it went
    const late = rebooted ? undefined : await readExitFile(id);
    if (late) return { state: { ...state, Status: 'exited', Pid: 0, ExitCode: late.exitCode, FinishedAt: late.finishedAt }, changed: true };
    return {
      state: {
        ...state,
        Status: 'exited',
        Pid: 0,
        ExitCode: -1,
        FinishedAt: new Date().toISOString(),
        Error: rebooted
          ? 'the host rebooted while the container ran; exit status unknown'
          : `the container's monitor (pid ${state.MonitorPid}) died; exit status unknown`,
      },
      changed: true,
    };
  }
  return { state, changed: false };
}

/** Ends a network backend left by an exited container (its pid checked against its start time). */
async function stopLeftNetwork(network: ContainerNetworkState | undefined): Promise<void> {
  if (!network || !isAlive(network.pid, network.start)) return;
  try {
    process.kill(network.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/**
 * The container's state as it is now. A container found to have exited is
 * recorded as such and its network backend ended, so that every command sees
 * the same thing and nothing lingers.
 */
export async function readState(containers: ContainerStore, id: string): Promise<ContainerState> {
  const recorded = await readRaw(containers, id);
  const { state, changed } = await reconcile(id, recorded);
  if (!changed) return state;
  return updateState(containers, id, async (current) => {
    const again = await reconcile(id, current);
    if (again.changed) await stopLeftNetwork(again.state.Network);
    return again.state;
  }).catch(() => state); // removed meanwhile: what we saw is the answer
}

/** Locked read-modify-write of state.json; resolves to the state written. */
export async function updateState(
  containers: ContainerStore,
  id: string,
  change: (state: ContainerState) => ContainerState | Promise<ContainerState>,
  options: { durable?: boolean } = {},
): Promise<ContainerState> {
  return withLock(lockPath(containers, id), async () => {
    const next = await change(await readRaw(containers, id));
    await writeState(containers, id, next, options);
    return next;
  });
}

/** Writes state.json (atomically; `durable: false` skips the fsync for --rm containers). */
export async function writeState(containers: ContainerStore, id: string, state: ContainerState, options: { durable?: boolean } = {}): Promise<void> {
  const path = statePath(containers, id);
  const text = `${JSON.stringify(state, null, 2)}\n`;
  if (options.durable === false) {
    const temp = `${path}.${process.pid}.tmp`;
    await fs.writeFile(temp, text, { mode: 0o600 });
    await fs.rename(temp, path);
  } else {
    await writeFileAtomic(path, text, 0o600);
  }
}

/** Running, paused or being stopped: a process exists (as last recorded). */
export function isActive(state: ContainerState): boolean {
  return ACTIVE.includes(state.Status);
}
