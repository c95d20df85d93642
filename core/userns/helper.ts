// The TypeScript side of native-helper's `userns` mode: where the helper is,
// how a mapping becomes its arguments, and running a program (or this very
// tsbox command) as root inside the user's mapped namespace.
import { spawn, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsboxError } from '../errors.js';
import { runtimeDir } from '../paths.js';
import { currentMapping, findMappingTools, type IdRange, type MappingTools, type UserMapping } from './mapping.js';

/** Set in the environment of a tsbox process started by reexecInUserNamespace. */
const USERNS_MARKER = '_TSBOX_IN_USERNS';
const HELPER_RELATIVE = join('native-helper', 'tsbox-helper');

let packageRoot: string | undefined;

/**
 * The directory holding package.json and native-helper/: found upwards from
 * this module, which runs from dist/core/userns/ or from the bundle in dist/bundle/.
 */
export function findPackageRoot(): string {
  if (packageRoot) return packageRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native-helper'))) return (packageRoot = dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // not found: name where it should be, so the error says what to build
  return (packageRoot = fileURLToPath(new URL('../../../', import.meta.url)));
}

/** `$TSBOX_HELPER`, else native-helper/tsbox-helper in this package. */
export function helperPath(): string {
  return process.env.TSBOX_HELPER || join(findPackageRoot(), HELPER_RELATIVE);
}

function isOwnIdOnly(ranges: IdRange[], ownId: number): boolean {
  return ranges.length === 1 && ranges[0]!.count === 1 && ranges[0]!.outside === ownId;
}

/**
 * The arguments of `tsbox-helper userns` (before `--`) for a mapping. The
 * setuid tools are passed whenever the mapping is more than the user's own
 * id, which only they may write.
 */
export function usernsHelperArgs(
  mapping: UserMapping,
  tools: MappingTools | undefined,
  own: { uid: number; gid: number } = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
): string[] {
  const args: string[] = [];
  for (const r of mapping.uids) args.push('--uid-map', String(r.inside), String(r.outside), String(r.count));
  for (const r of mapping.gids) args.push('--gid-map', String(r.inside), String(r.outside), String(r.count));
  const needsTools = mapping.full || !isOwnIdOnly(mapping.uids, own.uid) || !isOwnIdOnly(mapping.gids, own.gid);
  if (needsTools) {
    if (!tools) {
      throw new TsboxError('this id mapping needs newuidmap and newgidmap, which are not installed', {
        hint: 'install the uidmap package',
      });
    }
    args.push('--newuidmap', tools.newuidmap, '--newgidmap', tools.newgidmap);
  }
  return args;
}

/** True in a tsbox process that reexecInUserNamespace started (it runs as uid 0 there). */
export function isInUserNamespace(): boolean {
  return process.env[USERNS_MARKER] === '1' && process.getuid?.() === 0;
}

function toolsFor(mapping: UserMapping): MappingTools | undefined {
  if (!mapping.full) return undefined;
  const tools = findMappingTools();
  return 'missing' in tools ? undefined : tools;
}

/** 128+N for a process killed by signal N, as a shell reports it. */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? constants.signals[signal] : undefined;
  return number ? 128 + number : 125;
}

function helperNotRunnable(path: string, err: unknown): TsboxError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'permission denied' : String(err);
  return new TsboxError(`cannot run the helper ${path}: ${why}`, {
    hint: 'build it with `npm run build`, or point TSBOX_HELPER at it',
    cause: err,
  });
}

// Termination signals the waiting Node parent passes on to the helper (which
// passes them to the command) instead of dying and orphaning it.
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

function spawnHelper(
  args: string[],
  options: { env: NodeJS.ProcessEnv; stdio: StdioOptions; cwd?: string; forwardSignals: boolean },
) {
  const path = helperPath();
  const child = spawn(path, args, { env: options.env, stdio: options.stdio, cwd: options.cwd });
  const forwards = options.forwardSignals
    ? FORWARDED_SIGNALS.map((signal) => {
        const forward = () => child.kill(signal);
        process.on(signal, forward);
        return () => process.off(signal, forward);
      })
    : [];
  const done = new Promise<number>((resolve, reject) => {
    child.on('error', (err) => {
      forwards.forEach((off) => off());
      reject(helperNotRunnable(path, err));
    });
    child.on('close', (code, signal) => {
      forwards.forEach((off) => off());
      resolve(exitCodeOf(code, signal));
    });
  });
  return { child, done };
}

/**
 * Runs this same tsbox command again inside the user's mapped namespace,
 * stdio inherited; resolves to its exit code (128+N when killed by signal N).
 */
export async function reexecInUserNamespace(mapping: UserMapping = currentMapping()): Promise<number> {
  const args = [
    'userns',
    ...usernsHelperArgs(mapping, toolsFor(mapping)),
    '--',
    process.execPath,
    ...process.execArgv,
    '--', // node's options end here: Node 20 reads a --env-file anywhere before it
    ...process.argv.slice(1),
  ];
  const { done } = spawnHelper(args, {
    // the runtime directory as found out here: inside, uid 0 would name another fallback (/tmp/tsbox-run-0)
    env: { ...process.env, [USERNS_MARKER]: '1', XDG_RUNTIME_DIR: runtimeDir() },
    stdio: 'inherit',
    forwardSignals: true,
  });
  return done;
}

export interface RunInUserNamespaceOptions {
  mapping?: UserMapping;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** bytes for the command's stdin; nothing (EOF) when unset */
  input?: string | Buffer;
  signal?: AbortSignal;
}

export interface RunInUserNamespaceResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program as root in the user's mapped namespace, e.g. `rm -rf` of a
 * store directory whose files belong to subordinate ids. Output is
 * collected; a non-zero exit is the caller's to judge. Aborting kills it.
 */
export async function runInUserNamespace(
  command: string,
  args: string[],
  options: RunInUserNamespaceOptions = {},
): Promise<RunInUserNamespaceResult> {
  const mapping = options.mapping ?? currentMapping();
  const helperArgs = ['userns', ...usernsHelperArgs(mapping, toolsFor(mapping)), '--', command, ...args];
  const { child, done } = spawnHelper(helperArgs, {
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: options.cwd,
    forwardSignals: false,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => stdout.push(b));
  child.stderr!.on('data', (b: Buffer) => stderr.push(b));
  child.stdin!.on('error', () => {}); // a command that does not read its input is fine
  child.stdin!.end(options.input ?? '');
  const abort = () => child.kill('SIGTERM'); // the helper forwards it to the command
  if (options.signal?.aborted) abort();
  else options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const exitCode = await done;
    return { exitCode, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
