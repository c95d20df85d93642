// `tsbox exec`: runs a command in a running container through `tsbox-helper
// exec` (docs/internals.md, "The helper's exec mode"), which joins the
// namespaces and root of the container's first process. What the command
// gets comes from the container's record, as podman's exec: the container's
// environment (then --env-file, then -e), user, working directory,
// capabilities, no_new_privs and seccomp program, each overridable where
// podman allows it.
//
// fds of the helper: 3 args (NUL-separated), 4 status (JSON lines), 5 seccomp.
// The helper inherits our stdout/stderr (and stdin with -i or -t): this
// process never touches the command's streams.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { TsboxError } from '../errors.js';
import { silentReporter, type Reporter } from '../progress.js';
import { helperPath } from '../userns/helper.js';
import { readState, runtimePaths } from '../container/state.js';
import type { ContainerStore } from './containers.js';
import { exitCodeOf, FORWARDED_SIGNALS, HelperErrors, helperNotRunnable, readEvents, type HelperEvent } from './run.js';
import { expandEnvEntry, mergeEnv, parseEnvFile, SpecError, type ContainerSpec } from './spec.js';
import { debugHelperStart } from './debug.js';

const ARGS_FD = 3;
const STATUS_FD = 4;
const SECCOMP_FD = 5;


export interface ExecRequest {
  /** the command and its arguments (not empty) */
  command: string[];
  /** -i: the command reads our stdin; otherwise /dev/null */
  interactive: boolean;
  /** -t: a pseudo-terminal (our stdin is passed too, to be made raw) */
  tty: boolean;
  /** -d: start it in the background and return once it runs */
  detach: boolean;
  /** -e values in order: K=V, or K alone (taken from callerEnv) */
  env: string[];
  /** the text of each --env-file, in order */
  envFiles: string[];
  callerEnv: NodeJS.ProcessEnv;
  /** -u: else the container's user */
  user?: string;
  /** -w: else the container's working directory */
  workdir?: string;
  /** --privileged: every capability (podman's exec keeps the container's seccomp filter) */
  privileged: boolean;
}

export interface ExecOptions {
  reporter?: Reporter;
  /** the seccomp program for the container's spec (core/runtime/seccomp.ts), when it has none kept */
  seccomp?(spec: ContainerSpec): Promise<Buffer | undefined>;
}

/** podman's error for exec into a container that does not run (exit 125). */
export class ContainerNotRunningError extends TsboxError {}

/** The command's environment: the container's, with -t's TERM default, then --env-file, then -e (later wins). */
export function execEnvironment(spec: ContainerSpec, request: Pick<ExecRequest, 'env' | 'envFiles' | 'callerEnv' | 'tty'>): string[] {
  const fromFiles = request.envFiles.flatMap((text) => parseEnvFile(text, request.callerEnv));
  const fromFlags = request.env.flatMap((e) => expandEnvEntry(e, request.callerEnv));
  const terminal = request.tty ? ['TERM=xterm'] : [];
  return mergeEnv([terminal, spec.process.env, fromFiles, fromFlags]);
}

/** `tsbox-helper exec`'s arguments after the mode: options, `--`, the command. Pure. */
export function execHelperArgs(spec: ContainerSpec, pid: number, request: ExecRequest, fds: { statusFd: number; seccompFd?: number }): string[] {
  if (request.command.length === 0) throw new SpecError('must provide a non-empty command to start an exec session');
  const cwd = request.workdir || spec.process.cwd || '/';
  if (!cwd.startsWith('/')) throw new SpecError(`invalid working directory ${JSON.stringify(cwd)}: it must be an absolute path`);
  const args = ['--target', String(pid), '--user', request.user || spec.process.user || '0:0', '--chdir', cwd, '--clearenv'];
  for (const entry of execEnvironment(spec, request)) {
    const eq = entry.indexOf('=');
    args.push('--setenv', entry.slice(0, eq), entry.slice(eq + 1));
  }
  if (spec.process.capabilities && !request.privileged) args.push('--cap', spec.process.capabilities.join(','));
  if (spec.process.noNewPrivileges) args.push('--no-new-privs');
  if (fds.seccompFd !== undefined) args.push('--seccomp', String(fds.seccompFd));
  if (request.tty) args.push('--tty');
  // -t without -i (and -dt): a terminal, but not our stdin, as podman's
  if (request.tty && (!request.interactive || request.detach)) args.push('--no-stdin');
  args.push('--status-fd', String(fds.statusFd), '--', ...request.command);
  return args;
}

/**
 * Runs `request.command` in container `id` and resolves to its exit status
 * (128+N for signal N, 126/127 when it cannot run / is not found, 125 when
 * the helper failed). Detached, it resolves to 0 once the command has been
 * exec'd; a command that could not be started is an error with its status.
 */
export async function execInContainer(containers: ContainerStore, id: string, request: ExecRequest, options: ExecOptions = {}): Promise<number> {
  const reporter = options.reporter ?? silentReporter;
  const record = await containers.read(id);
  const state = await readState(containers, id);
  if (!record || state.Status !== 'running' || state.Pid <= 0) {
    throw new ContainerNotRunningError('can only create exec sessions on running containers: container state improper', {
      hint: 'start it first with `tsbox start`',
    });
  }
  const spec = record.Spec;
  const seccomp = spec.seccomp ? (keptSeccomp(id) ?? (options.seccomp ? await options.seccomp(spec) : undefined)) : undefined;
  const args = execHelperArgs(spec, state.Pid, request, { statusFd: STATUS_FD, ...(seccomp ? { seccompFd: SECCOMP_FD } : {}) });
  reporter.debug(`exec in ${id.slice(0, 12)} (pid ${state.Pid}): ${request.command.join(' ')}`);

  const path = helperPath();
  const attachStdin = !request.detach && request.interactive;
  const child = spawn(path, ['exec', '--args', String(ARGS_FD)], {
    // its own session: a terminal's Ctrl-C reaches the command once, through us (run.ts's
    // FORWARDED_SIGNALS); detached, also no stream of ours it could later write to
    detached: true,
    stdio: [attachStdin ? 'inherit' : 'ignore', request.detach ? 'ignore' : 'inherit', request.detach ? 'ignore' : 'inherit', 'pipe', 'pipe', seccomp ? 'pipe' : 'ignore'],
    // the command's environment is in the args; the helper needs nothing of ours
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  const pipes = child.stdio as unknown as Array<Readable | Writable | null>;
  const argsPipe = pipes[ARGS_FD] as Writable;
  argsPipe.on('error', () => {}); // the helper died early: its exit status tells why
  debugHelperStart(reporter, path, ['exec', '--args', String(ARGS_FD)], args);
  argsPipe.end(Buffer.from(args.map((a) => `${a}\0`).join('')));
  if (seccomp) {
    const seccompPipe = pipes[SECCOMP_FD] as Writable;
    seccompPipe.on('error', () => {});
    seccompPipe.end(seccomp);
  }
  const statusPipe = pipes[STATUS_FD] as Readable;
  return request.detach ? startDetached(child, statusPipe, path, reporter) : runAttached(child, path, reporter, statusPipe);
}

async function runAttached(child: ReturnType<typeof spawn>, path: string, reporter: Reporter, statusPipe: Readable): Promise<number> {
  const helperErrors = new HelperErrors(reporter);
  readEvents(statusPipe, (event: HelperEvent) => {
    if (event.event === 'error') helperErrors.add(event);
  }, reporter);
  const forwards = FORWARDED_SIGNALS.map((signal) => {
    const forward = () => child.kill(signal);
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', (err) => reject(helperNotRunnable(path, err)));
      child.on('close', (code, signal) => resolve(exitCodeOf(code, signal)));
    });
    // the command did not run: the reason on one line (the helper printed nothing), podman's 125/126/127
    const why = code >= 125 && code <= 127 ? await helperErrors.first() : undefined;
    if (why) throw new TsboxError(why, { exitCode: code });
    return code;
  } finally {
    forwards.forEach((off) => off());
  }
}

/** Waits for the helper's started event (or its failure), then lets it go on alone. */
async function startDetached(child: ReturnType<typeof spawn>, statusPipe: Readable, path: string, reporter: Reporter): Promise<number> {
  const helperErrors = new HelperErrors(reporter);
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: TsboxError) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      readEvents(statusPipe, (event: HelperEvent) => {
        if (event.event === 'error') helperErrors.add(event);
        else if (event.event === 'started' && !settled) {
          settled = true;
          resolve();
        }
      }, reporter);
      child.on('error', (err) => fail(helperNotRunnable(path, err)));
      // 'close' comes after the status pipe's end: a started event has been seen by then
      child.on('close', (code, signal) => {
        const status = exitCodeOf(code, signal);
        void helperErrors.last().then((why) =>
          fail(new TsboxError(why ?? `the exec session ended with ${status} before its command started`, { exitCode: status >= 126 && status <= 127 ? status : 125 })),
        );
      });
    });
  } finally {
    statusPipe.destroy();
    child.unref();
  }
  return 0;
}

/**
 * The seccomp program the container was started with, kept by detached.ts:
 * exec applies the container's own filter, even when tsbox or its profile
 * changed since; a container run in the foreground keeps none.
 */
function keptSeccomp(id: string): Buffer | undefined {
  try {
    return readFileSync(runtimePaths(id).seccomp);
  } catch {
    return undefined;
  }
}
