// Path resolution inside a container's root directory, given as an open
// directory fd, the way openat2(RESOLVE_IN_ROOT) does it: every component is
// looked up below the directory fd of its parent without following a
// symlink (`/proc/self/fd/N/NAME` with O_NOFOLLOW: the magic link is our own
// fd, NAME is the only component the kernel looks up), and symlinks are
// followed by us, an absolute target or `..` never climbing above the root.
// A container process that swaps a directory for a symlink meanwhile makes a
// step fail (ELOOP/ENOTDIR); it can never send a step outside the root.
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, type Stats } from 'node:fs';

const MAX_LINKS = 40;

/** `/proc/self/fd/FD/NAME`: NAME looked up in the directory FD (NAME itself never followed by the calls that do not follow). */
export function at(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

export function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const err = new Error(message) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Opens directory NAME of FD, refusing a symlink there. */
export function openDirAt(fd: number, name: string): number {
  return openSync(at(fd, name), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * A resolved path: the chain of directory fds from the root (fds[0] is the
 * root, not ours to close) and the last component in the deepest of them,
 * or none when the path is that directory itself.
 */
export interface Resolved {
  fds: number[];
  /** canonical names of fds[1..] (symlink-free, from the root) */
  names: string[];
  last: string | null;
  /** lstat of the target; null when the last component does not exist */
  stat: Stats | null;
}

export function dirFd(r: Resolved): number {
  return r.fds[r.fds.length - 1]!;
}

/** The target as a path this process may use (its last component is not followed by l* calls and O_NOFOLLOW). */
export function targetPath(r: Resolved): string {
  return r.last === null ? at(dirFd(r)) : at(dirFd(r), r.last);
}

/** The container path of the target, canonical. */
export function canonicalPath(r: Resolved): string {
  return `/${[...r.names, ...(r.last === null ? [] : [r.last])].join('/')}`;
}

/** The container path of NAME in the deepest directory of r. */
function childPath(r: Resolved, name: string): string {
  return `/${[...r.names, name].join('/')}`;
}

export function release(r: Resolved): void {
  for (const fd of r.fds.slice(1)) closeSync(fd);
  r.fds.length = 1;
}

/**
 * Resolves `components` starting at the directory `start` (canonical names
 * below the root, opened without following anything). `followLast`: a
 * symlink as the last component is followed too. ENOENT for a missing
 * directory on the way, ENOTDIR for a non-directory, ELOOP for too many links.
 */
export function resolveIn(root: number, components: string[], followLast: boolean, start: string[] = []): Resolved {
  const r: Resolved = { fds: [root], names: [], last: null, stat: null };
  try {
    for (const name of start) {
      r.fds.push(openDirAt(dirFd(r), name));
      r.names.push(name);
    }
    const queue = [...components];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (r.names.length > 0) {
          closeSync(r.fds.pop()!);
          r.names.pop();
        }
        continue;
      }
      const isLast = queue.every((q) => q === '' || q === '.');
      const st = lstatOrNull(at(dirFd(r), c));
      if (st === null) {
        if (isLast) {
          r.last = c;
          return r;
        }
        throw errnoError('ENOENT', `${childPath(r, c)}: no such file or directory`);
      }
      if (st.isSymbolicLink() && (!isLast || followLast)) {
        if (++links > MAX_LINKS) throw errnoError('ELOOP', `${childPath(r, c)}: too many levels of symbolic links`);
        const target = readlinkSync(at(dirFd(r), c));
        if (target.startsWith('/')) {
          release(r);
          r.names.length = 0;
        }
        queue.unshift(...target.split('/'));
        continue;
      }
      if (isLast) {
        r.last = c;
        r.stat = st;
        return r;
      }
      if (!st.isDirectory()) throw errnoError('ENOTDIR', `${childPath(r, c)}: not a directory`);
      r.fds.push(openDirAt(dirFd(r), c));
      r.names.push(c);
    }
    // the path named a directory reached by fds (the root, or after `..`)
    r.stat = fstatSync(dirFd(r));
    return r;
  } catch (err) {
    release(r);
    throw err;
  }
}
