// Runs the real tsbox command line as a child process, the way a user does.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** The repository root (dist/test/lib/ is three levels below it). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const TSBOX_BIN = join(REPO_ROOT, 'bin', 'tsbox');
export const HELPER_BIN = join(REPO_ROOT, 'native-helper', 'tsbox-helper');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs any program, bounded in time; never rejects on a non-zero exit. */
export function runProgram(program: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${options.timeoutMs ?? 120_000} ms: ${program} ${args.join(' ')}\n${Buffer.concat(err).toString()}`));
    }, options.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Runs `tsbox ARGS` with the given environment (merged over process.env). */
export function runTsbox(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(process.execPath, ['--', TSBOX_BIN, ...args], { ...options, env: { ...process.env, ...options.env } });
}

/** A private store and config home for one test file; `cleanup()` removes it. */
export function tempStore(): { root: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'tsbox-test-'));
  return {
    root,
    env: {
      TSBOX_ROOT: join(root, 'store'),
      XDG_DATA_HOME: join(root, 'data'),
      XDG_CONFIG_HOME: join(root, 'config'),
      XDG_RUNTIME_DIR: join(root, 'run'),
      CONTAINERS_REGISTRIES_CONF: join(root, 'registries.conf'),
      REGISTRY_AUTH_FILE: join(root, 'auth.json'),
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
