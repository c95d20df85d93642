// A container's root filesystem as this process can reach it: an open
// directory fd of the root its processes see (the overlay of its layers and
// upper/, with its volumes and bind mounts), for `tsbox cp`.
//
// Running: /proc/PID/root of its first process. The user owns the
// container's user namespace, so may open it even when that process runs as
// another uid.
// Stopped: the helper's `run` mode builds the same root (same overlay, same
// mounts) in new namespaces and stops before the command, waiting for the
// sync byte that never comes; its first process is then pivoted into the
// root, and /proc/PID/root of it is the root. Closing the sync pipe ends it
// without running anything.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { TsboxError } from '../errors.js';
import { silentReporter, type Reporter } from '../progress.js';
import { openStore } from '../store/index.js';
import { helperPath } from '../userns/helper.js';
import { currentMapping, findMappingTools, type MappingTools, type UserMapping } from '../userns/mapping.js';
import { ContainerNotFoundError, type ContainerStore } from '../runtime/containers.js';
import { helperArgs } from '../runtime/helper-args.js';
import { containerOverlay, markFuse, onFuseFallback, writtenByFuse } from '../runtime/overlay.js';
import { helperNotRunnable, readEvents, type HelperEvent } from '../runtime/run.js';
import { containerMapping } from '../runtime/start.js';
import type { ContainerRecord, ContainerSpec } from '../runtime/spec.js';
import { isActive, readState } from './state.js';

export interface ContainerRoot {
  /** a directory fd of the container's / (not close-on-exec: handed to the cp worker) */
  fd: number;
  record: ContainerRecord;
  /** the ids the container runs with */
  mapping: UserMapping;
  tools: MappingTools | undefined;
  running: boolean;
  /**
   * fuse-overlayfs mounts the root: only the container's own user namespace may
   * read it, so the worker joins that of this pid (`tsbox-helper userns --join`)
   * and `fd` is an O_PATH fd, the one kind the kernel opens for us outside it.
   */
  joinPid?: number;
  close(): Promise<void>;
}

const ARGS_FD = 3;
const STATUS_FD = 4;
const SYNC_FD = 5;
const WAIT_MS = 30_000;

function mappingTools(mapping: UserMapping): MappingTools | undefined {
  if (!mapping.full) return undefined;
  const tools = findMappingTools();
  if ('missing' in tools) throw new TsboxError(`${tools.missing} not found`, { hint: 'install the uidmap package' });
  return tools;
}

/** Linux's O_PATH (the same on x86_64 and aarch64); node's constants lack it. */
const O_PATH = 0o10000000;

function openProcRoot(pid: number, fuse: boolean): number {
  return openSync(`/proc/${pid}/root`, (fuse ? O_PATH : constants.O_RDONLY) | constants.O_DIRECTORY);
}

/** The spec of a process that only builds the root: nothing of it runs, nothing of it is created in the container. */
function mountOnlySpec(spec: ContainerSpec): ContainerSpec {
  return {
    ...spec,
    process: { ...spec.process, args: ['/.tsbox-cp'], terminal: false, init: false, user: '0:0', cwd: '/', noNewPrivileges: false },
    // cp writes into a --read-only container as podman does: into its storage
    root: { ...spec.root, readonly: false },
    seccomp: undefined,
  } as ContainerSpec;
}

async function mountStopped(containers: ContainerStore, id: string, record: ContainerRecord, mapping: UserMapping, tools: MappingTools | undefined): Promise<{ pid: number; child: ChildProcess; sync: Writable }> {
  const base = currentMapping();
  const store = await openStore({ mapping: { uids: base.uids, gids: base.gids } });
  const paths = containers.paths(id);
  const overlay = record.Spec.root.rootfs ? undefined : containerOverlay(paths.dir);
  const args = helperArgs(mountOnlySpec(record.Spec), {
    layersDir: store.layout.layersDir,
    upper: paths.upper,
    work: paths.work,
    merged: paths.merged,
    ...(overlay ? { overlay } : {}),
    statusFd: STATUS_FD,
    syncFd: SYNC_FD,
    mapping,
    tools,
  });
  if (overlay) markFuse(paths.dir, overlay);
  const path = helperPath();
  const child = spawn(path, ['run', '--args', String(ARGS_FD)], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  const pipes = child.stdio as unknown as Array<Readable | Writable | null>;
  let stderr = '';
  const stderrPipe = pipes[2] as Readable;
  stderrPipe.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
  stderrPipe.on('error', () => {});
  const argsPipe = pipes[ARGS_FD] as Writable;
  argsPipe.on('error', () => {});
  argsPipe.end(Buffer.from(args.map((a) => `${a}\0`).join('')));
  const sync = pipes[SYNC_FD] as Writable;
  sync.on('error', () => {});

  const pid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TsboxError(`mounting the container's filesystem took more than ${WAIT_MS / 1000}s`));
    }, WAIT_MS);
    readEvents(pipes[STATUS_FD] as Readable, (event: HelperEvent) => {
      if (event.event === 'pid') {
        clearTimeout(timer);
        resolve(event.pid);
      } else if (event.event === 'overlay') {
        onFuseFallback(paths.dir, event.errno, silentReporter);
      }
    }, silentReporter);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(helperNotRunnable(path, err));
    });
    child.on('close', () => {
      clearTimeout(timer);
      const line = stderr.trim().split('\n').pop() ?? '';
      reject(new TsboxError(`mounting the container's filesystem: ${line.replace(/^tsbox-helper: /, '') || 'the helper failed'}`));
    });
  });
  return { pid, child, sync };
}

/** Opens container `id`'s root filesystem, mounting it when the container is not running. */
export async function openContainerRoot(containers: ContainerStore, id: string, reporter: Reporter = silentReporter): Promise<ContainerRoot> {
  const record = await containers.read(id);
  if (!record) throw new ContainerNotFoundError(`no container with name or ID "${id}" found: no such container`);
  const mapping = containerMapping(record.Spec, reporter);
  const tools = mappingTools(mapping);
  const state = await readState(containers, id);
  const dir = containers.paths(id).dir;
  if (isActive(state) && state.Pid > 0) {
    try {
      // the marker is written before a start with fuse-overlayfs: a running container that has it runs on it
      const fuse = writtenByFuse(dir);
      const fd = openProcRoot(state.Pid, fuse);
      return { fd, record, mapping, tools, running: true, ...(fuse ? { joinPid: state.Pid } : {}), close: async () => closeSync(fd) };
    } catch {
      // it exited meanwhile: mount it as a stopped one
    }
  }
  const { pid, child, sync } = await mountStopped(containers, id, record, mapping, tools);
  let fd: number;
  // written before the mount, or on the helper's fallback event, which comes before the pid
  const fuse = writtenByFuse(dir);
  try {
    fd = openProcRoot(pid, fuse);
  } catch (err) {
    child.kill('SIGKILL');
    throw new TsboxError(`opening the container's filesystem: ${(err as Error).message}`);
  }
  const ended = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.on('close', () => resolve());
  });
  return {
    fd,
    record,
    mapping,
    tools,
    running: false,
    ...(fuse ? { joinPid: pid } : {}),
    close: async () => {
      closeSync(fd);
      sync.destroy(); // EOF: the helper ends without running anything
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await ended;
      clearTimeout(timer);
    },
  };
}
