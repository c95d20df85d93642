// Where tsbox keeps its files, following the XDG base directory spec as podman does.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { TsboxError } from './errors.js';

function home(): string {
  return process.env.HOME || homedir();
}

export function dataHome(): string {
  return process.env.XDG_DATA_HOME || join(home(), '.local', 'share');
}

export function configHome(): string {
  return process.env.XDG_CONFIG_HOME || join(home(), '.config');
}

/** The image and container store: `$XDG_DATA_HOME/tsbox`, or `$TSBOX_ROOT` when set (tests, scripts). */
export function storeRoot(): string {
  return process.env.TSBOX_ROOT || join(dataHome(), 'tsbox');
}

/**
 * `$XDG_RUNTIME_DIR` when it is set and ours; otherwise a private fallback
 * under /tmp (as under `su` or `sudo`, where it is unset or belongs to someone else).
 * /tmp is shared: the fallback is made 0700 and refused unless it is a real
 * directory of ours that nobody else can enter (another user could have made
 * it first, to read our attach sockets and credentials or plant symlinks).
 */
export function runtimeDir(): string {
  const uid = process.getuid?.() ?? 0;
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg) {
    try {
      if (statSync(xdg).uid === uid) return xdg;
    } catch {
      // unset, gone or not ours: fall through to the private fallback
    }
  }
  const fallback = join('/tmp', `tsbox-run-${uid}`);
  if (checkedFallback !== fallback) {
    checkPrivateDir(fallback, uid);
    checkedFallback = fallback;
  }
  return fallback;
}

let checkedFallback: string | undefined;

function checkPrivateDir(dir: string, uid: number): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new TsboxError(`cannot create the runtime directory ${dir}: ${(err as Error).message}`, { hint: 'set XDG_RUNTIME_DIR to a directory of yours with mode 0700' });
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    const what = st.isDirectory() ? `owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}` : 'not a directory';
    throw new TsboxError(`the runtime directory ${dir} is ${what}, not private to uid ${uid}`, {
      hint: `remove it, or set XDG_RUNTIME_DIR to a directory of yours with mode 0700, such as /run/user/${uid} after loginctl enable-linger`,
    });
  }
}
