// The container side of `tsbox cp`, a separate node process run as root in a
// user namespace with the container's id mapping (so files get the
// container's owners and mapped-id directories of mode 0700 are readable).
// fd 3 is the container's root directory (the mounted overlay, opened by
// the caller through /proc/PID/root); every path is resolved below it by
// core/container/confined.ts, never following a symlink out of it.
//
//   out: writes the source as a tar stream on stdout (names under one top
//        component: the source's base name, or "." for its contents)
//   in:  reads a tar stream on stdin and extracts it at the destination
//
// Errors: one JSON line {"error", "code"} on stderr, exit 1; warnings
// {"warning"} lines. The caller turns them into podman's wording.
import {
  closeSync, constants, fchmodSync, fchownSync, fstatSync, futimesSync, lchownSync, linkSync, lutimesSync,
  mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync, writeSync,
  createReadStream, type Stats,
} from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tar, { type Header } from 'tar-stream';
import {
  at, canonicalPath, dirFd, errnoError, lstatOrNull, openDirAt, release, resolveIn, splitPath, targetPath, type Resolved,
} from './confined.js';

const ROOT_FD = 3;

export interface OutRequest {
  op: 'out';
  /** the container path as the user wrote it */
  path: string;
}

export interface InRequest {
  op: 'in';
  path: string;
  /** into: the tar's entries go into the existing directory `path` as they are (`cp - CTR:DIR`);
   *  copy: the tar's first component is the source, placed by podman's rules */
  mode: 'into' | 'copy';
  /** copy mode: what the source is, and whether its contents only are copied (`SRC/.`) */
  source?: { kind: 'file' | 'dir'; contentsOnly: boolean; base: string };
  /** -a: owner of everything copied, from the container's user ('uid[:gid]' or 'name[:group]'); else the tar's */
  chownTo?: string;
  overwrite: boolean;
}

export type WorkerRequest = OutRequest | InRequest;

function warn(message: string): void {
  writeSync(2, `${JSON.stringify({ warning: message })}\n`);
}

/* ---------------------------------------------------------------- out */

/** "/a/b/." names the contents of b; "/" too. */
function contentsOnly(path: string): boolean {
  return path === '/' || path === '' || path.endsWith('/.') || splitPath(path).length === 0;
}

function typeOf(st: Stats): Header['type'] | undefined {
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets: nothing a tar can hold
}

function header(name: string, st: Stats): Partial<Header> & { name: string } {
  return { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
}

async function emitFile(pack: tar.Pack, name: string, parent: number, entry: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(at(parent, entry), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return warn(`${name}: permission denied, skipped`);
    throw err;
  }
  const st = fstatSync(fd);
  const size = st.size;
  if (size === 0) {
    closeSync(fd);
    pack.entry({ ...header(name, st), type: 'file', size }, Buffer.alloc(0));
    return;
  }
  const sink = pack.entry({ ...header(name, st), type: 'file', size });
  // exactly the size in the header, even if the file grows meanwhile
  await pipeline(createReadStream('', { fd, start: 0, end: size - 1 }), sink);
}

async function emit(pack: tar.Pack, name: string, parent: number, entry: string | null, st: Stats): Promise<void> {
  const type = typeOf(st);
  if (type === undefined) return warn(`${name}: a socket, skipped`);
  if (type === 'file') return emitFile(pack, name, parent, entry!);
  if (type === 'symlink') {
    pack.entry({ ...header(name, st), type, linkname: readlinkSync(at(parent, entry!)) });
    return;
  }
  if (type !== 'directory') {
    const rdev = st.rdev;
    pack.entry({ ...header(name, st), type, devmajor: (rdev >> 8) & 0xfff, devminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) });
    return;
  }
  let fd: number;
  try {
    fd = entry === null ? parent : openDirAt(parent, entry);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return warn(`${name}: permission denied, skipped`);
    throw err;
  }
  try {
    pack.entry({ ...header(`${name}/`, st), type: 'directory' });
    for (const child of readdirSync(at(fd)).sort()) {
      const cst = lstatOrNull(at(fd, child));
      if (cst) await emit(pack, `${name}/${child}`, fd, child, cst);
    }
  } finally {
    if (fd !== parent) closeSync(fd);
  }
}

async function copyOut(request: OutRequest): Promise<void> {
  const components = splitPath(request.path);
  const onlyContents = contentsOnly(request.path);
  // podman copies what a symlink points to (inside the container)
  const r = resolveIn(ROOT_FD, components, true);
  try {
    if (r.stat === null) throw errnoError('ENOENT', 'no such file or directory');
    if (request.path.endsWith('/') && !r.stat.isDirectory()) throw errnoError('ENOTDIR', 'not a directory');
    if (onlyContents && !r.stat.isDirectory()) throw errnoError('ENOTDIR', 'not a directory');
    const top = onlyContents ? '.' : components[components.length - 1]!;
    const pack = tar.pack();
    const done = pipeline(pack as unknown as Readable, process.stdout);
    await emit(pack, top, dirFd(r), r.last, r.stat);
    pack.finalize();
    await done;
  } finally {
    release(r);
  }
}

/* ----------------------------------------------------------------- in */

function parseIdFile(text: string, name: string): string[] | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return fields;
  }
  return undefined;
}

function readContainerFile(path: string): string {
  try {
    const r = resolveIn(ROOT_FD, splitPath(path), true);
    try {
      if (!r.stat?.isFile()) return '';
      const fd = openSync(targetPath(r), constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        return readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
    } finally {
      release(r);
    }
  } catch {
    return '';
  }
}

/** The container's primary uid/gid from its user spec, names looked up in its own /etc/passwd and /etc/group. */
function resolveUser(spec: string): { uid: number; gid: number } {
  const [user = '0', group] = spec.split(':');
  let uid: number;
  let gid = 0;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    const entry = readContainerFile('/etc/passwd').split('\n').map((l) => l.split(':')).find((f) => f[2] === user);
    if (entry) gid = Number(entry[3]);
  } else {
    const entry = parseIdFile(readContainerFile('/etc/passwd'), user);
    if (!entry) throw errnoError('ENOENT', `unable to find user ${user}: no matching entries in passwd file`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (group !== undefined && group !== '') {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const entry = parseIdFile(readContainerFile('/etc/group'), group);
      if (!entry) throw errnoError('ENOENT', `unable to find group ${group}: no matching entries in group file`);
      gid = Number(entry[2]);
    }
  }
  return { uid, gid };
}

/** rm -rf of NAME in directory FD, each step below FD without following a symlink. */
function removeAt(fd: number, name: string): void {
  const st = lstatOrNull(at(fd, name));
  if (!st) return;
  if (!st.isDirectory()) return unlinkSync(at(fd, name));
  const child = openDirAt(fd, name);
  try {
    for (const entry of readdirSync(at(child))) removeAt(child, entry);
  } finally {
    closeSync(child);
  }
  rmdirSync(at(fd, name));
}

interface Placement {
  /** canonical names of the directory the source's top lands in */
  dir: string[];
  /** the top's name there; null: the source's contents go into `dir` itself */
  name: string | null;
}

/** podman's rules: where the source lands, given what the destination is. */
function place(request: InRequest): Placement {
  const components = splitPath(request.path);
  const wantsDir = request.path.endsWith('/') || request.path.endsWith('/.');
  const r = resolveIn(ROOT_FD, components, true);
  try {
    const source = request.source;
    if (request.mode === 'into' || !source) {
      if (r.stat === null) throw errnoError('ENOENT', 'no such file or directory');
      if (!r.stat.isDirectory()) throw errnoError('ENOTDIR', 'not a directory');
      return { dir: r.last === null ? r.names : [...r.names, r.last], name: null };
    }
    const here = r.last === null ? r.names : [...r.names, r.last];
    if (r.stat === null) {
      if (wantsDir && source.kind !== 'dir') throw errnoError('ENOENT', 'no such file or directory');
      return { dir: r.names, name: r.last };
    }
    if (r.stat.isDirectory()) {
      if (source.kind === 'dir' && source.contentsOnly) return { dir: here, name: null };
      return { dir: here, name: source.base };
    }
    if (source.kind === 'dir' && !request.overwrite) {
      throw errnoError('EEXIST', `cannot overwrite non-directory "${canonicalPath(r)}" with directory`);
    }
    if (wantsDir) throw errnoError('ENOTDIR', 'not a directory');
    return { dir: r.names, name: r.last };
  } finally {
    release(r);
  }
}

interface Extraction {
  place: Placement;
  strip: boolean;
  owner?: { uid: number; gid: number };
  overwrite: boolean;
  /** directories to give their mtime once their contents are in */
  dirTimes: Array<{ names: string[]; mtime: Date }>;
}

/** The entry's path below the placement, as components (`..` and absolute names refused). */
function entryComponents(x: Extraction, name: string): string[] {
  if (name.startsWith('/') || name.includes('\0')) throw errnoError('EINVAL', `tar entry ${JSON.stringify(name)} points outside the destination`);
  const raw = name.split('/').filter((c) => c !== '');
  // copy mode: the first component is the source itself (its base name, or "." for its contents)
  if (x.strip) raw.shift();
  const parts = raw.filter((c) => c !== '.');
  if (parts.includes('..')) throw errnoError('EINVAL', `tar entry ${JSON.stringify(name)} points outside the destination`);
  return x.place.name !== null ? [x.place.name, ...parts] : parts;
}

/** Resolves where an entry goes, making missing parent directories (root-owned 0755, as tar does). */
function locate(x: Extraction, parts: string[]): Resolved {
  try {
    return resolveIn(ROOT_FD, parts, false, x.place.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (let i = 1; i < parts.length; i++) {
    const r = resolveIn(ROOT_FD, parts.slice(0, i), true, x.place.dir);
    try {
      if (r.stat === null) {
        mkdirSync(targetPath(r), 0o755);
        if (x.owner) lchownSync(targetPath(r), x.owner.uid, x.owner.gid);
      }
    } finally {
      release(r);
    }
  }
  return resolveIn(ROOT_FD, parts, false, x.place.dir);
}

async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) void _;
}

function owner(x: Extraction, h: Partial<Header> & { name: string }): { uid: number; gid: number } {
  return x.owner ?? { uid: h.uid ?? 0, gid: h.gid ?? 0 };
}

/** Makes room for a non-directory at r: a directory there is an error unless --overwrite. */
function clearForNonDir(x: Extraction, r: Resolved): void {
  if (!r.stat || r.stat.isFile()) return;
  if (r.stat.isDirectory()) {
    if (!x.overwrite) throw errnoError('EEXIST', `cannot overwrite directory "${canonicalPath(r)}" with non-directory`);
    removeAt(dirFd(r), r.last!);
  } else unlinkSync(targetPath(r));
}

async function extractEntry(x: Extraction, h: Partial<Header> & { name: string }, stream: Readable): Promise<void> {
  const parts = entryComponents(x, h.name);
  if (parts === undefined || parts.length === 0) {
    // the destination directory itself: left as it is
    return drain(stream);
  }
  const r = locate(x, parts);
  try {
    const id = owner(x, h);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const path = targetPath(r);
    switch (h.type) {
      case 'directory': {
        if (r.stat && !r.stat.isDirectory()) {
          if (!x.overwrite) throw errnoError('EEXIST', `cannot overwrite non-directory "${canonicalPath(r)}" with directory`);
          unlinkSync(path);
          r.stat = null;
        }
        if (!r.stat) mkdirSync(path, mode);
        const fd = openDirAt(dirFd(r), r.last!);
        try {
          fchownSync(fd, id.uid, id.gid);
          fchmodSync(fd, mode);
        } finally {
          closeSync(fd);
        }
        if (h.mtime) x.dirTimes.push({ names: [...r.names, r.last!], mtime: h.mtime });
        return drain(stream);
      }
      case 'file':
      case 'contiguous-file': {
        clearForNonDir(x, r);
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
        try {
          for await (const chunk of stream) writeSync(fd, chunk as Buffer);
          fchownSync(fd, id.uid, id.gid);
          fchmodSync(fd, mode); // after chown, which clears set-id bits
          if (h.mtime) futimesSync(fd, h.mtime, h.mtime);
        } finally {
          closeSync(fd);
        }
        return;
      }
      case 'symlink': {
        clearForNonDir(x, r);
        if (r.stat?.isFile()) unlinkSync(path);
        symlinkSync(h.linkname ?? '', path);
        lchownSync(path, id.uid, id.gid);
        if (h.mtime) lutimesSync(path, h.mtime, h.mtime);
        return drain(stream);
      }
      case 'link': {
        clearForNonDir(x, r);
        if (r.stat?.isFile()) unlinkSync(path);
        const targetParts = entryComponents(x, h.linkname ?? '');
        const target = resolveIn(ROOT_FD, targetParts, false, x.place.dir);
        try {
          linkSync(targetPath(target), path);
        } finally {
          release(target);
        }
        return drain(stream);
      }
      default:
        // devices and fifos cannot be made in a user namespace (nor from node)
        warn(`${h.name}: ${h.type} skipped`);
        return drain(stream);
    }
  } finally {
    release(r);
  }
}

async function copyIn(request: InRequest): Promise<void> {
  const x: Extraction = {
    place: place(request),
    strip: request.mode === 'copy',
    overwrite: request.overwrite,
    dirTimes: [],
    ...(request.chownTo !== undefined ? { owner: resolveUser(request.chownTo) } : {}),
  };
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) await extractEntry(x, entry.header, entry as unknown as Readable);
  })();
  await pipeline(process.stdin, extract);
  await done;
  for (const { names, mtime } of x.dirTimes.reverse()) {
    const r = resolveIn(ROOT_FD, [names[names.length - 1]!], false, names.slice(0, -1));
    try {
      if (r.stat?.isDirectory()) {
        const fd = openDirAt(dirFd(r), r.last!);
        futimesSync(fd, mtime, mtime);
        closeSync(fd);
      }
    } catch {
      // only a time
    } finally {
      release(r);
    }
  }
}

/* --------------------------------------------------------------- main */

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as WorkerRequest;
  if (request.op === 'out') await copyOut(request);
  else if (request.op === 'in') await copyIn(request);
  else throw new Error(`unknown operation ${JSON.stringify((request as { op: unknown }).op)}`);
}

main().then(
  () => process.exit(0),
  (err: NodeJS.ErrnoException) => {
    writeSync(2, `${JSON.stringify({ error: err.message, code: err.code ?? '' })}\n`);
    process.exit(1);
  },
);
