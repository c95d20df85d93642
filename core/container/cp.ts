// `tsbox cp`: files between a container and the host, podman's rules.
//
// The container side is a worker (cp-worker.ts) run as root in a user
// namespace with the container's mapping, handed the container's root as a
// directory fd (rootfs.ts): running or stopped, it sees what the container's
// processes see, and resolves every path below that root without following
// a symlink out of it. Between this process and the worker goes a tar
// stream, both ways; `-` passes our stdin/stdout to the worker untouched.
// The host side (reading the source, writing the destination) runs here, as
// the user: copied-out files are the user's.
import { spawn } from 'node:child_process';
import {
  closeSync, constants, createReadStream, futimesSync, fchmodSync, linkSync, lstatSync, lutimesSync, mkdirSync,
  openSync, readdirSync, readlinkSync, statSync, symlinkSync, unlinkSync, utimesSync, writeSync, chmodSync, type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import tar, { type ExtractEvents } from 'tar-stream';

/** An entry of tar.extract(): its header, then its data. */
type TarEntry = ExtractEvents['entry'][1];
import { TsboxError } from '../errors.js';
import { silentReporter, type Reporter } from '../progress.js';
import { helperPath, usernsHelperArgs } from '../userns/helper.js';
import type { IdRange } from '../userns/mapping.js';
import type { ContainerStore } from '../runtime/containers.js';
import { resolveContainer } from './lookup.js';
import { openContainerRoot, type ContainerRoot } from './rootfs.js';
import type { InRequest, WorkerRequest } from './cp-worker.js';

const WORKER = fileURLToPath(new URL('./cp-worker.js', import.meta.url));
const OVERFLOW_ID = 65534;

export interface CpLocation {
  /** the container as the user named it; absent: the host */
  container?: string;
  path: string;
}

/** podman's parsing: `CTR:PATH` unless the argument starts with `/` or `.` (a host path that has a colon). */
export function parseLocation(arg: string): CpLocation {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon < 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

export interface CpOptions {
  /** -a (podman's default): files copied in belong to the container's user; false: keep the source's owners */
  archive: boolean;
  /** --overwrite: a directory may replace a non-directory and back */
  overwrite: boolean;
  reporter?: Reporter;
  /** for `-`: the streams (process.stdin/stdout by default) */
  stdin?: Readable;
  stdout?: Writable;
}

/** SRC ends in `/.`, or is the root: its contents are copied, not itself. */
export function contentsOnly(path: string): boolean {
  return path.endsWith('/.') || path === '.' || path.split('/').every((c) => c === '' || c === '.');
}

function notFound(path: string, where: string): TsboxError {
  return new TsboxError(`${JSON.stringify(path)} could not be found on ${where}: no such file or directory`);
}

/* ---------------------------------------------------------- the worker */

interface WorkerMessage {
  error?: string;
  code?: string;
  warning?: string;
}

interface Worker {
  stdin: Writable | null;
  stdout: Readable | null;
  /** resolves to the worker's error (undefined when it succeeded) */
  done: Promise<WorkerMessage | undefined>;
}

function startWorker(root: ContainerRoot, request: WorkerRequest, stdio: { stdin: 'pipe' | number; stdout: 'pipe' | number }, reporter: Reporter): Worker {
  const namespace = root.joinPid !== undefined ? ['--join', String(root.joinPid)] : usernsHelperArgs(root.mapping, root.tools);
  const args = ['userns', ...namespace, '--', process.execPath, WORKER, JSON.stringify(request)];
  const child = spawn(helperPath(), args, {
    stdio: [stdio.stdin, stdio.stdout, 'pipe', root.fd],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<WorkerMessage | undefined>((resolve, reject) => {
    child.on('error', (err) => reject(new TsboxError(`cannot run the helper: ${err.message}`)));
    child.on('close', (code) => {
      let failure: WorkerMessage | undefined;
      for (const line of stderr.split('\n')) {
        if (line.trim() === '') continue;
        try {
          const message = JSON.parse(line) as WorkerMessage;
          if (message.warning) reporter.warn(message.warning);
          if (message.error !== undefined) failure = message;
        } catch {
          failure ??= { error: line.replace(/^tsbox-helper: /, ''), code: '' };
        }
      }
      if (code !== 0) resolve(failure ?? { error: `the copy ended with status ${code}`, code: '' });
      else resolve(undefined);
    });
  });
  return { stdin: child.stdin, stdout: child.stdout, done };
}

function workerError(failure: WorkerMessage, path: string, container: string): TsboxError {
  if (failure.code === 'ENOENT' && failure.error === 'no such file or directory') return notFound(path, `container ${container}`);
  if (failure.code === 'ENOENT') return new TsboxError(`${JSON.stringify(path)} could not be found on container ${container}: ${failure.error}`);
  if (failure.code === 'ENOTDIR' && failure.error === 'not a directory') return new TsboxError(`${JSON.stringify(path)} on container ${container}: not a directory`);
  return new TsboxError(`copying ${container}:${path}: ${failure.error}`);
}

/* ------------------------------------------------------- host -> tar */

/** The container's id for a host id: inside the mapping, else the overflow id. */
function insideId(ranges: IdRange[], outside: number): number {
  for (const r of ranges) if (outside >= r.outside && outside < r.outside + r.count) return r.inside + (outside - r.outside);
  return OVERFLOW_ID;
}

async function packHost(pack: tar.Pack, name: string, path: string, st: Stats, ids: { uids: IdRange[]; gids: IdRange[] }, reporter: Reporter): Promise<void> {
  const base = { name, mode: st.mode & 0o7777, uid: insideId(ids.uids, st.uid), gid: insideId(ids.gids, st.gid), mtime: st.mtime };
  if (st.isDirectory()) {
    pack.entry({ ...base, name: `${name}/`, type: 'directory' });
    for (const child of readdirSync(path).sort()) {
      const childPath = join(path, child);
      await packHost(pack, `${name}/${child}`, childPath, lstatSync(childPath), ids, reporter);
    }
  } else if (st.isSymbolicLink()) {
    pack.entry({ ...base, type: 'symlink', linkname: readlinkSync(path) });
  } else if (st.isFile()) {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    if (st.size === 0) {
      closeSync(fd);
      pack.entry({ ...base, type: 'file', size: 0 }, Buffer.alloc(0));
    } else await pipeline(createReadStream('', { fd, start: 0, end: st.size - 1 }), pack.entry({ ...base, type: 'file', size: st.size }));
  } else reporter.warn(`${path}: not a file, directory or symlink, skipped`);
}

/* ------------------------------------------------------- tar -> host */

interface HostPlacement {
  /** where the source's top lands */
  target: string;
}

function hostPlace(dest: string, source: { kind: 'file' | 'dir'; contentsOnly: boolean; base: string }, overwrite: boolean): HostPlacement {
  let st: Stats | undefined;
  try {
    st = statSync(dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TsboxError(`${dest}: ${(err as Error).message}`);
  }
  if (!st) {
    if (dest.endsWith('/') && source.kind !== 'dir') throw notFound(dest, 'the host');
    const parent = dirname(resolvePath(dest));
    let parentSt: Stats | undefined;
    try {
      parentSt = statSync(parent);
    } catch {
      // below
    }
    if (!parentSt?.isDirectory()) throw notFound(parent, 'the host');
    return { target: resolvePath(dest) };
  }
  if (st.isDirectory()) {
    if (source.kind === 'dir' && source.contentsOnly) return { target: resolvePath(dest) };
    return { target: join(resolvePath(dest), source.base) };
  }
  if (source.kind === 'dir' && !overwrite) throw new TsboxError(`cannot overwrite non-directory ${JSON.stringify(dest)} with directory`);
  if (dest.endsWith('/')) throw new TsboxError(`${JSON.stringify(dest)}: not a directory`);
  return { target: resolvePath(dest) };
}

/** The entry's host path below the target; intermediate directories must be real ones (a symlink there is refused). */
function hostEntryPath(target: string, name: string, strip: boolean): string {
  const raw = name.split('/').filter((c) => c !== '');
  if (strip) raw.shift();
  const parts = raw.filter((c) => c !== '.');
  if (parts.includes('..') || name.includes('\0')) throw new TsboxError(`tar entry ${JSON.stringify(name)} points outside the destination`);
  let at = target;
  for (const part of parts.slice(0, -1)) {
    at = join(at, part);
    const st = lstatSync(at);
    if (!st.isDirectory()) throw new TsboxError(`${at}: not a directory (a symlink is not followed)`);
  }
  return parts.length === 0 ? target : join(at, parts[parts.length - 1]!);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) void _;
}

async function extractToHost(entries: AsyncIterator<TarEntry>, first: TarEntry, target: string, overwrite: boolean, reporter: Reporter): Promise<void> {
  const dirTimes: Array<{ path: string; mtime: Date }> = [];
  let entry: TarEntry | undefined = first;
  while (entry) {
    const h = entry.header;
    const path = hostEntryPath(target, h.name, true);
    const existing = lstatOrUndefined(path);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const clearForNonDir = () => {
      if (!existing) return;
      if (existing.isDirectory()) {
        if (!overwrite) throw new TsboxError(`cannot overwrite directory ${JSON.stringify(path)} with non-directory`);
        throw new TsboxError(`${path}: replacing a directory on the host is not supported`);
      }
      unlinkSync(path);
    };
    if (h.type === 'directory') {
      if (existing && !existing.isDirectory()) {
        if (!overwrite) throw new TsboxError(`cannot overwrite non-directory ${JSON.stringify(path)} with directory`);
        unlinkSync(path);
      }
      if (!existing?.isDirectory()) mkdirSync(path, mode | 0o700);
      else chmodSync(path, mode | 0o700);
      if (h.mtime) dirTimes.push({ path, mtime: h.mtime });
      await drain(entry);
    } else if (h.type === 'file' || h.type === 'contiguous-file' || !h.type) {
      clearForNonDir();
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
      try {
        for await (const chunk of entry) writeSync(fd, chunk as Buffer);
        fchmodSync(fd, mode);
        if (h.mtime) futimesSync(fd, h.mtime, h.mtime);
      } finally {
        closeSync(fd);
      }
    } else if (h.type === 'symlink') {
      clearForNonDir();
      symlinkSync(h.linkname ?? '', path);
      if (h.mtime) lutimesSync(path, h.mtime, h.mtime);
      await drain(entry);
    } else if (h.type === 'link') {
      clearForNonDir();
      linkSync(hostEntryPath(target, h.linkname ?? '', true), path);
      await drain(entry);
    } else {
      reporter.warn(`${h.name}: ${h.type} skipped (not made on the host)`);
      await drain(entry);
    }
    const next: IteratorResult<TarEntry> = await entries.next();
    entry = next.done ? undefined : next.value;
  }
  for (const { path, mtime } of dirTimes.reverse()) {
    try {
      utimesSync(path, mtime, mtime);
    } catch {
      // only a time
    }
  }
}

/* ---------------------------------------------------------- the copies */

async function copyFromContainer(root: ContainerRoot, name: string, src: string, dest: string, options: CpOptions, reporter: Reporter): Promise<void> {
  const request: WorkerRequest = { op: 'out', path: src };
  if (dest === '-') {
    const out = options.stdout ?? process.stdout;
    // our own stdout goes to the worker as it is; another stream through a pipe
    const direct = out === process.stdout;
    const worker = startWorker(root, request, { stdin: 'pipe', stdout: direct ? 1 : 'pipe' }, reporter);
    worker.stdin?.end();
    const piped = direct ? Promise.resolve() : pipeline(worker.stdout!, out, { end: false });
    const failure = await worker.done;
    await piped;
    if (failure) throw workerError(failure, src, name);
    return;
  }
  const worker = startWorker(root, request, { stdin: 'pipe', stdout: 'pipe' }, reporter);
  worker.stdin?.end();
  const extract = tar.extract();
  const feeding = pipeline(worker.stdout!, extract).catch((err: Error) => err);
  // the host side fails alone (a destination that cannot be), or sees the worker's stream end early
  let hostError: unknown;
  const extracting = (async () => {
    const entries = extract[Symbol.asyncIterator]();
    const first: IteratorResult<TarEntry> = await entries.next();
    if (first.done) return;
    const kind = first.value.header.type === 'directory' ? 'dir' : 'file';
    const base = basename(src.replace(/\/+$/, '')) || '.';
    const place = hostPlace(dest, { kind, contentsOnly: contentsOnly(src), base }, options.overwrite);
    await extractToHost(entries, first.value, place.target, options.overwrite, reporter);
  })().catch((err: unknown) => {
    hostError = err;
    worker.stdout?.destroy(); // the worker ends on EPIPE
  });
  const failure = await worker.done;
  await extracting;
  const fed = await feeding;
  if (hostError instanceof TsboxError) throw hostError;
  if (failure) throw workerError(failure, src, name);
  if (hostError) throw new TsboxError(`copying ${name}:${src} to ${dest}: ${(hostError as Error).message}`);
  if (fed instanceof Error) throw new TsboxError(`copying ${name}:${src}: ${fed.message}`);
}

async function copyToContainer(root: ContainerRoot, name: string, src: string, dest: string, options: CpOptions, reporter: Reporter): Promise<void> {
  const chown = options.archive ? { chownTo: root.record.Spec.process.user || '0:0' } : {};
  if (src === '-') {
    const request: InRequest = { op: 'in', path: dest, mode: 'into', overwrite: options.overwrite, ...chown };
    const input = options.stdin ?? process.stdin;
    const direct = input === process.stdin;
    const worker = startWorker(root, request, { stdin: direct ? 0 : 'pipe', stdout: 'pipe' }, reporter);
    if (!direct) pipeline(input, worker.stdin!).catch(() => {});
    worker.stdout?.resume();
    const failure = await worker.done;
    if (failure) throw workerError(failure, dest, name);
    return;
  }
  let st: Stats;
  try {
    st = statSync(src); // a symlink on the host is copied as what it points to (podman)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') throw notFound(src, 'the host');
    throw new TsboxError(`${src}: ${(err as Error).message}`);
  }
  const only = contentsOnly(src);
  if ((only || src.endsWith('/')) && !st.isDirectory()) throw new TsboxError(`${JSON.stringify(src)}: not a directory`);
  const kind = st.isDirectory() ? 'dir' : 'file';
  const base = basename(resolvePath(src));
  const request: InRequest = { op: 'in', path: dest, mode: 'copy', source: { kind, contentsOnly: only, base }, overwrite: options.overwrite, ...chown };
  const worker = startWorker(root, request, { stdin: 'pipe', stdout: 'pipe' }, reporter);
  worker.stdout?.resume();
  const pack = tar.pack();
  const sending = pipeline(pack as unknown as Readable, worker.stdin!).catch(() => {});
  let hostError: unknown;
  const packing = (async () => {
    await packHost(pack, only ? '.' : base, src, st, { uids: root.mapping.uids, gids: root.mapping.gids }, reporter);
    pack.finalize();
  })().catch((err: unknown) => {
    hostError = err;
    pack.destroy();
  });
  const failure = await worker.done;
  if (failure) pack.destroy(); // the worker reads no more: stop packing
  await packing;
  await sending;
  // the worker's error explains a packing that stopped because it went away
  if (failure) throw workerError(failure, dest, name);
  if (hostError) throw hostError instanceof TsboxError ? hostError : new TsboxError(`copying ${src}: ${(hostError as Error).message}`);
}

/** `tsbox cp SRC DEST`: exactly one side names a container. */
export async function copy(containers: ContainerStore, srcArg: string, destArg: string, options: CpOptions): Promise<void> {
  const reporter = options.reporter ?? silentReporter;
  const src = srcArg === '-' ? { path: '-' } : parseLocation(srcArg);
  const dest = destArg === '-' ? { path: '-' } : parseLocation(destArg);
  if (src.container !== undefined && dest.container !== undefined) {
    throw new TsboxError('copying between containers is not supported', { hint: 'copy to the host first, or pipe `tsbox cp A:PATH -` into `tsbox cp - B:DIR`' });
  }
  if (src.container === undefined && dest.container === undefined) {
    throw new TsboxError(`invalid arguments ${srcArg}, ${destArg} you must use just one container`);
  }
  if (src.path === '-' && dest.path === '-') throw new TsboxError('invalid arguments: SRC and DEST cannot both be -');
  const name = (src.container ?? dest.container)!;
  const id = await resolveContainer(containers, name);
  const root = await openContainerRoot(containers, id, reporter);
  try {
    if (src.container !== undefined) await copyFromContainer(root, name, src.path || '/', dest.path, options, reporter);
    else await copyToContainer(root, name, src.path, dest.path || '/', options, reporter);
  } finally {
    await root.close();
  }
}
