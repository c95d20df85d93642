// Runs a container in the foreground: spawns `tsbox-helper run` with its file
// descriptors, reads its status lines, starts the network once the
// container's process exists, lets it exec, and resolves to its exit status.
//
// The helper inherits our real stdin/stdout/stderr: this process never reads
// or writes the container's streams, so pipes flow straight through.
// fds 3.. of the helper, in this order:
//   3 args     NUL-separated options (`--args 3`)
//   4 status   JSON lines from the helper
//   5 sync     one byte once the network is up (only when there is one to start)
//   6 seccomp  the compiled BPF program (only when there is one)
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { getSystemErrorMap } from 'node:util';
import { TsboxError } from '../errors.js';
import { silentReporter, type Reporter } from '../progress.js';
import { helperPath } from '../userns/helper.js';
import type { MappingTools, UserMapping } from '../userns/mapping.js';
import type { ContainerPaths } from './containers.js';
import { helperArgs } from './helper-args.js';
import { markFuse, onFuseFallback, type OverlayPlan } from './overlay.js';
import type { ContainerSpec } from './spec.js';

const ARGS_FD = 3;
const STATUS_FD = 4;
const SYNC_FD = 5;
const SECCOMP_FD = 6;

/** What the network module hands back: stopped when the container exits. */
export interface RunningNetwork {
  stop(): Promise<void> | void;
}

export interface RunContainerOptions {
  paths: ContainerPaths;
  /** the store's layers/ directory */
  layersDir: string;
  /** which overlay mounts the root (core/runtime/overlay.ts); absent: the kernel's */
  overlay?: OverlayPlan;
  mapping: UserMapping;
  tools: MappingTools | undefined;
  /** -i: the container reads our stdin; otherwise /dev/null, as podman gives it */
  interactive?: boolean;
  /** remove the container's directory from inside the namespace once it exited */
  remove?: boolean;
  /** the compiled seccomp program (struct sock_filter[]), when one applies */
  seccomp?: Buffer;
  /** starts the container's network for its first process (slirp4netns/pasta); absent: nothing to start */
  startNetwork?: (pid: number) => Promise<RunningNetwork>;
  reporter?: Reporter;
  /** called with the container's host pid once it exists */
  onPid?: (pid: number) => void;
  /** awaited after the network is up and before the command runs (to record the container as running) */
  beforeStart?: (pid: number, helperPid: number) => Promise<void>;
}

/** One status line of the helper (docs/internals.md). */
export type HelperEvent =
  /** the container's namespaces exist (its root is still being mounted): the network can start */
  | { event: 'namespaces'; pid: number }
  /** its root is mounted and it waits for the sync byte (or runs, without --sync-fd) */
  | { event: 'pid'; pid: number }
  | { event: 'started' }
  | { event: 'overlay'; mode: 'fuse'; errno?: string }
  | { event: 'error'; stage: string; errno?: string; message: string }
  | { event: 'exit'; code?: number; signal?: number };

/**
 * Sent to tsbox, passed on to the helper, which passes them to the command.
 * The helper runs in a session of its own, so that a terminal's Ctrl-C (sent
 * to the whole foreground process group) reaches the command once, through
 * us, and not also directly; a resize (WINCH) therefore comes through us too.
 */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? constants.signals[signal] : undefined;
  return number ? 128 + number : 125;
}

/** Splits a stream into JSON lines; lines that are not JSON are reported, not fatal. */
function readEvents(stream: Readable, onEvent: (event: HelperEvent) => void, reporter: Reporter): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() === '') continue;
      try {
        onEvent(JSON.parse(line) as HelperEvent);
      } catch {
        reporter.debug(`helper status: unreadable line ${JSON.stringify(line)}`);
      }
    }
  });
  stream.on('error', () => {});
}

/** An errno name as the words strerror gives (libuv's, lower case). */
export function describeErrno(name: string): string {
  for (const [, [errName, words]] of getSystemErrorMap()) if (errName === name) return words;
  return name;
}

/**
 * The helper's error events in the order they came, worded for the user
 * (helperErrorText) when asked. The foreground paths report the first, the
 * cause; the detached ones the last, after which the helper gave up.
 */
export class HelperErrors {
  private readonly events: Array<HelperEvent & { event: 'error' }> = [];

  constructor(private readonly reporter: Reporter) {}

  add(event: HelperEvent & { event: 'error' }): void {
    this.reporter.debug(`helper: ${event.stage}: ${event.message}`);
    this.events.push(event);
  }

  get any(): boolean {
    return this.events.length > 0;
  }

  async first(): Promise<string | undefined> {
    const event = this.events[0];
    return event && helperErrorText(event);
  }

  async last(): Promise<string | undefined> {
    const event = this.events.at(-1);
    return event && helperErrorText(event);
  }
}

/**
 * The one line for the user about a failure the helper reported before the
 * command ran (it prints nothing itself when it has a status fd), worded as
 * podman words the same failures. Async: a refused user namespace looks up
 * the kernel switch that refuses it.
 */
export async function helperErrorText(event: { stage: string; errno?: string; message: string }): Promise<string> {
  const { stage, errno, message } = event;
  const notFound = /^(.*): command not found$/.exec(message);
  if (stage === 'exec' && notFound) {
    const command = notFound[1]!;
    return command.includes('/')
      ? `executable file \`${command}\` not found: no such file or directory`
      : `executable file \`${command}\` not found in $PATH: no such file or directory`;
  }
  const line = errno ? `${message}: ${describeErrno(errno)}` : message;
  const mapTool = /^\S*(new[ug]idmap) failed to write the/.exec(message);
  if (stage === 'userns' && mapTool) {
    const user = process.env.USER || 'USER';
    return `${line} (check the ${user} lines of /etc/subuid and /etc/subgid, and that ${mapTool[1]} is setuid root: reinstall the uidmap package)`;
  }
  if (stage === 'userns' && errno) {
    const { hostUsernsSwitches } = await import('../host/info.js');
    const fix = hostUsernsSwitches();
    if (fix) return `${line} (${fix})`;
  }
  return line;
}

function helperNotRunnable(path: string, err: unknown): TsboxError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'permission denied' : String(err);
  return new TsboxError(`cannot run the helper ${path}: ${why}`, { hint: 'build it with `npm run build`, or point TSBOX_HELPER at it', cause: err });
}

export interface RunResult {
  /** the exit status (see runContainer) */
  code: number;
  /** why the command did not run, for the user (the helper itself printed nothing) */
  helperError?: string;
}

/**
 * Runs the container described by `spec` and resolves to its exit status
 * (128+N for signal N; 125 when the helper failed, 126/127 when the command
 * cannot run / is not found).
 */
export { readEvents, helperNotRunnable, exitCodeOf, FORWARDED_SIGNALS };

export async function runContainer(spec: ContainerSpec, options: RunContainerOptions): Promise<RunResult> {
  const reporter = options.reporter ?? silentReporter;
  const { paths } = options;
  const gated = options.startNetwork !== undefined || options.beforeStart !== undefined;
  const args = helperArgs(spec, {
    layersDir: options.layersDir,
    upper: paths.upper,
    work: paths.work,
    merged: paths.merged,
    ...(options.overlay ? { overlay: options.overlay } : {}),
    statusFd: STATUS_FD,
    ...(spec.process.terminal && !options.interactive ? { ttyWithoutStdin: true } : {}),
    ...(gated ? { syncFd: SYNC_FD } : {}),
    ...(options.seccomp ? { seccompFd: SECCOMP_FD } : {}),
    ...(options.remove ? { removeAfterExit: [paths.dir] } : {}),
    mapping: options.mapping,
    tools: options.tools,
  });
  if (options.overlay && !spec.root.rootfs) markFuse(paths.dir, options.overlay);
  const path = helperPath();
  // the command waits for our byte when there is something to do before it runs
  const child: ChildProcess = spawn(path, ['run', '--args', String(ARGS_FD)], {
    detached: true, // its own session: see FORWARDED_SIGNALS
    stdio: [options.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit', 'pipe', 'pipe', gated ? 'pipe' : 'ignore', options.seccomp ? 'pipe' : 'ignore'],
    // the container's environment is in the args; the helper itself needs only PATH (newuidmap)
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });

  const forwards = FORWARDED_SIGNALS.map((signal) => {
    const forward = () => child.kill(signal);
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });

  let network: RunningNetwork | undefined;
  let failure: unknown;
  const pipes = child.stdio as unknown as Array<Readable | Writable | null>;
  const argsPipe = pipes[ARGS_FD] as Writable;
  argsPipe.on('error', () => {}); // the helper died early: its exit status tells why
  argsPipe.end(Buffer.from(args.map((a) => `${a}\0`).join('')));
  if (options.seccomp) {
    const seccompPipe = pipes[SECCOMP_FD] as Writable;
    seccompPipe.on('error', () => {});
    seccompPipe.end(options.seccomp);
  }
  const syncPipe = gated ? (pipes[SYNC_FD] as Writable) : undefined;
  syncPipe?.on('error', () => {});

  // the network starts on the namespaces event, while the helper mounts the root
  let networkStart: Promise<RunningNetwork> | undefined;
  const startNetwork = (pid: number) => {
    networkStart ??= options.startNetwork!(pid).then((started) => (network = started));
    return networkStart;
  };
  const onPid = async (pid: number) => {
    options.onPid?.(pid);
    if (!syncPipe) return;
    try {
      if (options.startNetwork) await startNetwork(pid);
      if (options.beforeStart) await options.beforeStart(pid, child.pid!);
      syncPipe.end(Buffer.from([1]));
    } catch (err) {
      failure = err;
      syncPipe.destroy(); // EOF: the helper aborts before exec
    }
  };
  const helperErrors = new HelperErrors(reporter);
  readEvents(pipes[STATUS_FD] as Readable, (event) => {
    if (event.event === 'namespaces' && syncPipe && options.startNetwork) startNetwork(event.pid).catch(() => {}); // onPid reports it
    else if (event.event === 'pid') void onPid(event.pid);
    else if (event.event === 'error') helperErrors.add(event);
    else if (event.event === 'overlay') onFuseFallback(paths.dir, event.errno, reporter);
  }, reporter);

  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', (err) => reject(helperNotRunnable(path, err)));
      child.on('close', (code, signal) => resolve(exitCodeOf(code, signal)));
    });
    // our own failure (the network) first: the helper's is then only its consequence
    if (failure) throw failure;
    if (helperErrors.any && code >= 125 && code <= 127) return { code, helperError: await helperErrors.first() };
    return { code };
  } finally {
    forwards.forEach((off) => off());
    // a network still starting when the helper failed is stopped once it has started
    await networkStart?.catch(() => {});
    if (network) await Promise.resolve(network.stop()).catch((err) => reporter.warn(`stopping the network: ${(err as Error).message}`));
  }
}
