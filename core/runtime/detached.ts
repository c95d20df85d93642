// Starts a created (or exited) container in the background, under the
// helper acting as its monitor (docs/internals.md, "The monitor"): the helper
// is spawned in its own session, this process waits until the command has
// been exec'd — so `run -d` still reports a missing command as 127 — records
// the container as running and goes away. The monitor logs, holds the
// terminal for attach, writes the exit file and runs `tsbox container
// cleanup ID`, which stops the network and applies --rm and --restart.
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { writeFileRenamed } from '../store/atomic.js';
import type { Readable, Writable } from 'node:stream';
import { TsboxError } from '../errors.js';
import { silentReporter, type Reporter } from '../progress.js';
import { openStore } from '../store/index.js';
import { helperPath } from '../userns/helper.js';
import { currentBootId, isActive, processStartTime, readState, runtimePaths, updateState, type ContainerNetworkState } from '../container/state.js';
import { ContainerNotFoundError, type ContainerStore } from './containers.js';
import { helperArgs } from './helper-args.js';
import { containerOverlay, markFuse, onFuseFallback } from './overlay.js';
import { startContainerNetwork } from './network.js';
import { exitCodeOf, HelperErrors, helperNotRunnable, readEvents, type HelperEvent } from './run.js';
import { containerMapping } from './start.js';
import { currentMapping, findMappingTools } from '../userns/mapping.js';
import type { ContainerRecord } from './spec.js';
import { debugHelperStart } from './debug.js';

const ARGS_FD = 3;
const STATUS_FD = 4;
const SYNC_FD = 5;
const SECCOMP_FD = 6;

/** What the monitor and its exit command need of our environment: where the store and runtime dir are. */
const KEPT_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'XDG_RUNTIME_DIR', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'TSBOX_ROOT', 'TSBOX_HELPER', 'TSBOX_OVERLAY', 'TSBOX_FUSE_OVERLAYFS', 'CONTAINERS_REGISTRIES_CONF', 'TMPDIR'];

export interface StartOptions {
  reporter?: Reporter;
  /** the compiled seccomp program for the spec, when it has a profile */
  seccomp?(spec: ContainerRecord['Spec']): Promise<Buffer | undefined>;
  /** called with the attach socket once it listens, before the command runs (start -a) */
  beforeStart?(attachSocket: string): Promise<void>;
  /** the restart policy's count to record (cleanup passes the next one; a user's start resets it) */
  restartCount?: number;
}

export class ContainerStartError extends TsboxError {}

function monitorEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of KEPT_ENV) if (process.env[key] !== undefined) env[key] = process.env[key];
  env.PATH ??= '/usr/bin:/bin';
  return env;
}

/** `tsbox container cleanup ID`, as this very tsbox runs it. */
function exitCommand(id: string): string[] {
  return [process.execPath, '--', process.argv[1]!, 'container', 'cleanup', id];
}

/**
 * Starts container `id` under a monitor and resolves once its command runs.
 * A container already running is left as it is. The exit status of a
 * command that could not be started (126, 127) comes back as the error's exitCode.
 */
export async function startContainer(containers: ContainerStore, id: string, options: StartOptions = {}): Promise<void> {
  const reporter = options.reporter ?? silentReporter;
  const record = await containers.read(id);
  if (!record) throw new ContainerNotFoundError(`no container with name or ID "${id}" found: no such container`);
  const state = await readState(containers, id);
  if (isActive(state)) return;
  const spec = record.Spec;
  const run = record.Run;
  const paths = containers.paths(id);
  const runtime = runtimePaths(id);
  await mkdir(runtime.dir, { recursive: true, mode: 0o700 });
  await Promise.all([rm(runtime.exit, { force: true }), rm(runtime.attach, { force: true })]);

  const mapping = containerMapping(spec, reporter);
  const base = currentMapping();
  const store = await openStore({ mapping: { uids: base.uids, gids: base.gids } });
  const seccomp = options.seccomp ? await options.seccomp(spec) : undefined;
  // kept for exec, which applies the program its container runs with (exec.ts): whole or not at all
  if (seccomp) await writeFileRenamed(runtime.seccomp, seccomp, 0o600);
  const tools = mapping.full ? findMappingTools() : undefined;
  if (tools && 'missing' in tools) throw new TsboxError(`${tools.missing} not found`, { hint: 'install the uidmap package' });

  const overlay = spec.root.rootfs ? undefined : containerOverlay(paths.dir);
  const args = helperArgs(spec, {
    layersDir: store.layout.layersDir,
    upper: paths.upper,
    work: paths.work,
    merged: paths.merged,
    ...(overlay ? { overlay } : {}),
    statusFd: STATUS_FD,
    syncFd: SYNC_FD,
    ...(seccomp ? { seccompFd: SECCOMP_FD } : {}),
    mapping,
    tools: tools && !('missing' in tools) ? tools : undefined,
    exitFile: runtime.exit,
    monitor: {
      logFile: `${paths.userdata}/ctr.log`,
      attachSocket: runtime.attach,
      stdinPipe: run?.Interactive ?? false,
      exitCommand: exitCommand(id),
    },
  });

  if (overlay) markFuse(paths.dir, overlay);
  const path = helperPath();
  const child = spawn(path, ['run', '--args', String(ARGS_FD)], {
    // its own session: no terminal, no signals from ours; stderr read for its own failures
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', seccomp ? 'pipe' : 'ignore'],
    env: monitorEnv(),
  });
  const pipes = child.stdio as unknown as Array<Readable | Writable | null>;
  let stderr = '';
  const stderrPipe = pipes[2] as Readable;
  stderrPipe.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
  stderrPipe.on('error', () => {});
  const argsPipe = pipes[ARGS_FD] as Writable;
  argsPipe.on('error', () => {});
  debugHelperStart(reporter, path, ['run', '--args', String(ARGS_FD)], args);
  argsPipe.end(Buffer.from(args.map((a) => `${a}\0`).join('')));
  if (seccomp) {
    const seccompPipe = pipes[SECCOMP_FD] as Writable;
    seccompPipe.on('error', () => {});
    seccompPipe.end(seccomp);
  }
  const syncPipe = pipes[SYNC_FD] as Writable;
  syncPipe.on('error', () => {});
  const statusPipe = pipes[STATUS_FD] as Readable;

  let network: Awaited<ReturnType<typeof startContainerNetwork>> | undefined;
  // started on the namespaces event, while the helper mounts the root; awaited on the pid event
  let networkStart: Promise<unknown> | undefined;
  const userMode = spec.network.mode === 'slirp4netns' || spec.network.mode === 'pasta';
  const startNetwork = (pid: number) =>
    (networkStart ??= startContainerNetwork(spec, run!.NetworkFlag, pid, reporter, { logFile: runtime.networkLog }).then((started) => (network = started)));
  const helperErrors = new HelperErrors(reporter);
  const release = () => {
    for (const pipe of [stderrPipe, statusPipe, argsPipe, syncPipe]) pipe.destroy();
    child.unref();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const onPid = async (pid: number) => {
        try {
          if (userMode && run) await startNetwork(pid);
          const networkState: ContainerNetworkState | undefined = network
            ? { backend: network.info.backend, pid: network.info.pid, start: processStartTime(network.info.pid) ?? '', ports: network.info.ports }
            : undefined;
          // recorded before the command runs: whatever happens next, the reconciler can tell
          await updateState(containers, id, (s) => ({
            ...s,
            Status: 'running',
            Pid: pid,
            MonitorPid: child.pid!,
            MonitorStart: processStartTime(child.pid!) ?? '',
            BootId: currentBootId(),
            ExitCode: 0,
            Error: '',
            StartedAt: new Date().toISOString(),
            FinishedAt: '',
            StopRequested: false,
            RestartCount: options.restartCount ?? 0,
            Network: networkState,
          }));
          if (options.beforeStart) await options.beforeStart(runtime.attach);
          syncPipe.end(Buffer.from([1]));
        } catch (err) {
          syncPipe.destroy(); // EOF: the helper aborts before exec
          fail(err);
        }
      };
      readEvents(statusPipe, (event: HelperEvent) => {
        if (event.event === 'namespaces' && userMode && run) startNetwork(event.pid).catch(() => {}); // onPid reports it
        else if (event.event === 'pid') void onPid(event.pid);
        else if (event.event === 'error') helperErrors.add(event);
        else if (event.event === 'overlay') onFuseFallback(paths.dir, event.errno, reporter);
        else if (event.event === 'started' && !settled) {
          settled = true;
          resolve();
        } else if (event.event === 'exit' && !settled) {
          const code = event.signal !== undefined ? 128 + event.signal : (event.code ?? 125);
          void helperErrors.last().then((why) =>
            fail(new ContainerStartError(why ?? `the container exited with ${code} before it started`, { exitCode: why ? code : 125 })),
          );
        }
      }, reporter);
      child.on('error', (err) => fail(helperNotRunnable(path, err)));
      child.on('close', (code, signal) => {
        if (settled) return;
        const status = exitCodeOf(code, signal);
        void helperErrors.last().then((worded) => {
          const why = worded ?? (stderr.trim().split('\n').pop() || `the helper exited with ${status}`);
          fail(new ContainerStartError(why.replace(/^tsbox-helper: /, ''), { exitCode: status >= 126 && status <= 127 ? status : 125 }));
        });
      });
    });
  } catch (err) {
    // a network still starting when the helper failed is stopped once it has started
    await networkStart?.catch(() => {});
    if (network) await network.stop().catch(() => {});
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    release();
    throw err;
  }
  release();
}
