// Unpacks one image layer (a gzip/zstd/plain tar stream) into an empty
// directory, inside the user's user namespace so that owners come out as the
// user's subordinate ids. Whiteouts become what rootless overlayfs reads.
//
// The destination is fresh and only this process writes to it, so what is on
// disk below it is exactly what `kinds` records: ancestors are checked against
// that map instead of being lstat'ed, and nothing is ever followed through a
// symlink the layer made.
import { createHash } from 'node:crypto';
import * as fsSync from 'node:fs';
import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { TsboxError, wrapError } from '../errors.js';
import type { Reporter } from '../progress.js';
import { BoundedWork } from './bounded-work.js';
import { decoderFor } from './decompress.js';
import { LayerCorruptError, LayerUnsafeError } from './errors.js';
import { runFsOps, type FsOp } from './fsops.js';
import { ancestors, entryPath, outside, parentPath } from './safe-path.js';
import { classifyWhiteout } from './whiteout.js';

export { LayerCorruptError, LayerUnsafeError } from './errors.js';

export interface UnpackOptions {
  /** An existing, empty directory. */
  destination: string;
  /** Whether to give entries their uid/gid (true inside the mapped user namespace). */
  canChown: boolean;
  reporter: Reporter;
  /** Path of tsbox-helper, run as `helper fsops destination` for whiteouts, xattrs and fifos. */
  helper: string;
  /** `sha256:…` of the compressed blob, to name the layer in messages. */
  layerDigest?: string;
}

export interface UnpackResult {
  /** `sha256:…` of the uncompressed tar stream. */
  diffId: string;
  /** Sum of the sizes of the regular files. */
  size: number;
}

export async function unpackLayer(compressed: Readable, options: UnpackOptions): Promise<UnpackResult> {
  return new LayerUnpacker(options).unpack(compressed);
}

/** What this layer has put at a path so far. Whiteouts and fifos reach the disk at the end, through the helper. */
type Kind = 'dir' | 'file' | 'symlink' | 'fifo' | 'whiteout';

interface Metadata {
  uid: number;
  gid: number;
  mode: number;
  /** Seconds since the epoch, with a fraction from pax records. */
  mtime: number;
  atime: number;
}

type Header = tar.Header & { pax?: Record<string, string> | null };
type EntryData = AsyncIterable<Buffer>;

/** Files up to this size are read whole and written in the background, in parallel. */
const SMALL_FILE = 256 * 1024;
/** Background writes in flight; with SMALL_FILE this bounds the memory held to 8 MiB. */
const PARALLEL_WRITES = 32;
/** Large files are written in batches of about this much. */
const WRITE_BATCH = 1024 * 1024;

const CREATE_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

class LayerUnpacker {
  private readonly root: string;
  private readonly context: string;
  private readonly kinds = new Map<string, Kind>([['', 'dir']]);
  /** Directory metadata, applied at the very end: creating children changes a directory's mtime. */
  private readonly directories = new Map<string, Metadata>();
  private readonly fifos = new Map<string, Metadata>();
  private readonly whiteouts = new Set<string>();
  private readonly opaque = new Set<string>();
  private readonly xattrs = new Map<string, { name: string; value: Buffer }[]>();
  private readonly work = new BoundedWork(PARALLEL_WRITES);
  private size = 0;
  private devices: string[] = [];
  private devicesSkipped = 0;
  private xattrsSkipped = 0;
  private chownWarned = false;
  private umask = 0o7777;
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;
  /** False when a setgid destination would give new files its group instead of ours. */
  private ownsNewFiles = false;

  constructor(private readonly options: UnpackOptions) {
    this.root = options.destination;
    this.context = options.layerDigest ? `layer ${options.layerDigest}` : 'layer';
  }

  async unpack(compressed: Readable): Promise<UnpackResult> {
    this.umask = await currentUmask();
    this.ownsNewFiles = ((await fs.stat(this.root)).mode & 0o2000) === 0;
    let sourceError: unknown;
    compressed.once('error', (err) => (sourceError ??= err));
    try {
      const diffId = await this.extract(compressed).catch((err: unknown) => {
        throw this.explain(err, sourceError);
      });
      await this.work.drain();
      this.work.throwIfFailed();
      await this.finish();
      return { diffId, size: this.size };
    } catch (err) {
      // Leave nothing running in the destination the caller is about to remove.
      await this.work.drain();
      throw err instanceof TsboxError ? err : wrapError(this.context, err);
    }
  }

  /** Streams the decompressed tar through the hash and the tar parser; resolves to the diff id. */
  private async extract(compressed: Readable): Promise<string> {
    const { source, decoder } = await decoderFor(compressed);
    if (decoder) {
      source.on('error', (err) => decoder.destroy(err));
      source.pipe(decoder);
    }
    const tarStream = decoder ?? source;
    const hash = createHash('sha256');
    const extract = tar.extract();
    let entryError: unknown;
    let current: Promise<void> = Promise.resolve();
    extract.on('entry', (header, stream, next) => {
      current = this.entry(header as Header, stream as unknown as EntryData);
      current.then(
        () => next(),
        (err: unknown) => {
          entryError ??= err;
          next(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
    // A full parser is waited for until it drains or settles (fails or closes):
    // one listener each, for the whole layer, so that waits never pile up.
    let parserSettled = false;
    let wake: (() => void) | undefined;
    const wakeUp = () => {
      const resume = wake;
      wake = undefined;
      resume?.();
    };
    extract.on('drain', wakeUp);
    const parsed = new Promise<void>((resolve, reject) => {
      extract.on('error', reject);
      extract.on('close', resolve);
    });
    parsed.catch(() => {}).finally(() => {
      parserSettled = true;
      wakeUp();
    });
    try {
      for await (const chunk of tarStream) {
        hash.update(chunk);
        if (!extract.write(chunk) && !parserSettled) await new Promise<void>((resolve) => (wake = resolve));
        if (parserSettled) await parsed;
      }
      extract.end(null);
      await parsed;
    } catch (err) {
      // Taken before the teardown, whose own errors are only consequences.
      const cause = entryError ?? err;
      extract.destroy();
      source.destroy();
      // The entry being written stops on its destroyed stream; let it.
      await current.catch(() => {});
      throw cause;
    }
    if (entryError) throw entryError;
    return `sha256:${hash.digest('hex')}`;
  }

  /**
   * The input's own failure (a dropped download) is reported as such; our
   * errors pass through; anything else came from the decoder or the tar
   * parser, so the blob is not a layer.
   */
  private explain(err: unknown, sourceError: unknown): TsboxError {
    if (sourceError !== undefined) return sourceError instanceof TsboxError ? sourceError : wrapError(this.context, sourceError);
    if (err instanceof TsboxError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new LayerCorruptError(`${this.context}: not a valid layer: ${message}`, { cause: err });
  }

  private async entry(header: Header, stream: EntryData): Promise<void> {
    this.work.throwIfFailed();
    const name = header.name;
    const path = entryPath(name, this.context);
    try {
      await this.place(path, name, header, stream);
    } catch (err) {
      throw err instanceof TsboxError ? err : wrapError(`${this.context}: ${JSON.stringify(name)}`, err);
    }
    // tar-stream moves on only once the entry's data is read.
    for await (const _ of stream);
  }

  /** Runs `task` in the background; its failure names the path and stops the unpacking. */
  private background(path: string, task: () => Promise<void>): Promise<void> {
    return this.work.run(path, () =>
      task().catch((err: unknown) => {
        throw err instanceof TsboxError ? err : wrapError(`${this.context}: ${JSON.stringify(path)}`, err);
      }),
    );
  }

  private async place(path: string, name: string, header: Header, stream: EntryData): Promise<void> {
    const whiteout = classifyWhiteout(path);
    if (whiteout) {
      if (whiteout.kind === 'invalid') throw outside(name, this.context);
      if (whiteout.kind === 'aufs-meta') return this.options.reporter.debug(`${this.context}: skipped aufs metadata ${name}`);
      await this.ensureParent(path, name);
      if (whiteout.kind === 'opaque') this.opaque.add(whiteout.path);
      else this.whiteOut(whiteout.path);
      return;
    }
    if (path.split('/').some((part) => part.startsWith('.wh..wh.'))) {
      return this.options.reporter.debug(`${this.context}: skipped aufs metadata ${name}`);
    }
    switch (header.type) {
      case 'directory':
        return this.directory(path, name, header);
      case 'file':
      case 'contiguous-file':
        return this.file(path, name, header, stream);
      case 'symlink':
        return this.symlink(path, name, header);
      case 'link':
        return this.hardlink(path, name, header);
      case 'fifo':
        await this.prepare(path, name, 'fifo');
        this.kinds.set(path, 'fifo');
        this.fifos.set(path, metadataOf(header));
        this.recordXattrs(path, header);
        return;
      case 'character-device':
      case 'block-device':
        // The directory stays (an empty /dev still matters); the node cannot be made.
        await this.ensureParent(path, name);
        this.devicesSkipped++;
        if (this.devices.length === 0) this.devices.push(path);
        return;
      default:
        this.options.reporter.debug(`${this.context}: skipped ${name}: entries of type ${header.type} are not supported`);
    }
  }

  /** A whiteout hides lower layers only: an entry of this same layer at that path stays. */
  private whiteOut(path: string): void {
    if (this.kinds.has(path)) {
      this.options.reporter.debug(`${this.context}: whiteout for ${path} ignored: the layer itself has ${path}`);
      return;
    }
    this.kinds.set(path, 'whiteout');
    this.whiteouts.add(path);
  }

  private async directory(path: string, name: string, header: Header): Promise<void> {
    const fresh = await this.prepare(path, name, 'dir');
    // Owner-writable until the end, when the real mode is set: a read-only
    // directory must still take its children.
    if (fresh) fsSync.mkdirSync(this.full(path), 0o700);
    this.kinds.set(path, 'dir');
    this.directories.set(path, metadataOf(header));
    this.recordXattrs(path, header);
  }

  private async file(path: string, name: string, header: Header, stream: EntryData): Promise<void> {
    await this.prepare(path, name, 'file');
    this.kinds.set(path, 'file');
    this.recordXattrs(path, header);
    const metadata = metadataOf(header);
    const size = header.size ?? 0;
    this.size += size;
    const full = this.full(path);
    if (size <= SMALL_FILE) {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      this.writeSmallFile(full, path, chunks, metadata);
      return;
    }
    const file = await fs.open(full, CREATE_FILE, this.creationMode(metadata));
    let handedOver = false;
    try {
      let batch: Buffer[] = [];
      let batched = 0;
      for await (const chunk of stream) {
        batch.push(chunk);
        batched += (chunk).length;
        if (batched >= WRITE_BATCH) {
          await writeAll(file, batch);
          batch = [];
          batched = 0;
        }
      }
      await writeAll(file, batch);
      handedOver = true;
      await this.background(path, async () => {
        try {
          await this.finishFile(file, path, metadata);
        } finally {
          await file.close();
        }
      });
    } finally {
      if (!handedOver) await file.close();
    }
  }

  /**
   * Owner first: chown clears setuid and setgid, so the mode comes after it;
   * times last. Most files need neither chown nor chmod: syscalls are the
   * cost of unpacking, so those are skipped when creation got them right.
   */
  private async finishFile(file: FileHandle, path: string, metadata: Metadata): Promise<void> {
    const chowned = this.needsChown(metadata);
    if (chowned) await this.chown(path, metadata, () => file.chown(metadata.uid, metadata.gid));
    if (chowned || this.creationMode(metadata) !== metadata.mode || (metadata.mode & this.umask) !== 0) await file.chmod(metadata.mode);
    await file.utimes(metadata.atime, metadata.mtime);
  }

  /**
   * Small files, most of a layer, are written with synchronous calls: for
   * each, open/write/utimes/close take microseconds, while handing each call
   * to libuv's thread pool costs more than the call itself (measured on
   * /usr/share, 47k files: the pool's futex and wake-ups were 85% of the
   * system time). Decompression keeps running in the pool meanwhile.
   */
  private writeSmallFile(full: string, path: string, chunks: Buffer[], metadata: Metadata): void {
    const fd = fsSync.openSync(full, CREATE_FILE, this.creationMode(metadata));
    try {
      for (let chunk of chunks) {
        while (chunk.length > 0) chunk = chunk.subarray(fsSync.writeSync(fd, chunk));
      }
      const chowned = this.needsChown(metadata);
      if (chowned) this.chownSync(path, metadata, () => fsSync.fchownSync(fd, metadata.uid, metadata.gid));
      if (chowned || this.creationMode(metadata) !== metadata.mode || (metadata.mode & this.umask) !== 0) {
        fsSync.fchmodSync(fd, metadata.mode);
      }
      fsSync.futimesSync(fd, metadata.atime, metadata.mtime);
    } finally {
      fsSync.closeSync(fd);
    }
  }

  /** The mode to create a file with: its own, when that is only permission bits. */
  private creationMode(metadata: Metadata): number {
    return metadata.mode & 0o7000 ? 0o600 : metadata.mode;
  }

  /** A new file is already ours; chown only when it must belong to someone else. */
  private needsChown(metadata: Metadata): boolean {
    if (!this.options.canChown) return false;
    return !this.ownsNewFiles || metadata.uid !== this.euid || metadata.gid !== this.egid;
  }

  private async symlink(path: string, name: string, header: Header): Promise<void> {
    const target = header.linkname ?? '';
    if (target === '') throw new LayerCorruptError(`${this.context}: symlink ${JSON.stringify(name)} has no target`);
    await this.prepare(path, name, 'symlink');
    this.kinds.set(path, 'symlink');
    const metadata = metadataOf(header);
    const full = this.full(path);
    fsSync.symlinkSync(target, full);
    if (this.needsChown(metadata)) this.chownSync(path, metadata, () => fsSync.lchownSync(full, metadata.uid, metadata.gid));
    fsSync.lutimesSync(full, metadata.atime, metadata.mtime);
  }

  /** A hard link may only point at an earlier non-directory entry of this same layer. */
  private async hardlink(path: string, name: string, header: Header): Promise<void> {
    const linkname = header.linkname ?? '';
    const refuse = (why: string) =>
      new LayerUnsafeError(`${this.context}: hard link ${JSON.stringify(name)} points to ${JSON.stringify(linkname)}, ${why}`);
    let target: string;
    try {
      target = entryPath(linkname, this.context);
    } catch {
      throw refuse('outside the layer');
    }
    if (target === '') throw refuse('the layer root');
    const targetKind = () => {
      const kind = this.kinds.get(target);
      // The target's parent must still be a directory of ours (never a symlink).
      if (kind === undefined || kind === 'whiteout' || this.kinds.get(parentPath(target)) !== 'dir') {
        throw refuse('which is not an earlier entry of this layer');
      }
      if (kind === 'dir') throw refuse('a directory');
      return kind;
    };
    targetKind();
    if (target === path) return;
    await this.prepare(path, name, 'file');
    const kind = targetKind();
    if (kind === 'fifo') {
      // Fifos exist only once the helper has run: this one becomes a fifo of its own.
      this.kinds.set(path, 'fifo');
      this.fifos.set(path, this.fifos.get(target)!);
      return;
    }
    await this.work.settled(target);
    this.work.throwIfFailed();
    fsSync.linkSync(this.full(target), this.full(path));
    this.kinds.set(path, kind);
  }

  /**
   * Makes room for an entry of `kind` at `path`: the parents exist as real
   * directories, and whatever was there before is gone — except a directory
   * that a directory replaces, which stays with its contents, as in docker.
   * Returns whether `path` is free (false: keep the existing directory).
   */
  private async prepare(path: string, name: string, kind: Kind): Promise<boolean> {
    if (path === '') {
      if (kind !== 'dir') throw new LayerUnsafeError(`${this.context}: entry ${JSON.stringify(name)} would replace the layer root`);
      return false;
    }
    await this.ensureParent(path, name);
    const existing = this.kinds.get(path);
    if (existing === undefined) return true;
    if (existing === 'dir' && kind === 'dir') return false;
    await this.remove(path, existing);
    // The lower layers' NAME was deleted, then NAME made anew: nothing of theirs may show through.
    if (existing === 'whiteout' && kind === 'dir') this.opaque.add(path);
    return true;
  }

  /** Creates missing parents of `path`; refuses to go through a symlink or a file. */
  private async ensureParent(path: string, name: string): Promise<void> {
    const parent = parentPath(path);
    // Every recorded path has directories as all its ancestors, so the parent alone tells.
    if (this.kinds.get(parent) === 'dir') return;
    for (const dir of ancestors(path)) {
      const kind = this.kinds.get(dir);
      if (kind === 'dir') continue;
      if (kind === 'symlink') {
        throw new LayerUnsafeError(`${this.context}: entry ${JSON.stringify(name)} goes through the symlink ${JSON.stringify(dir)}`);
      }
      if (kind === 'file' || kind === 'fifo') {
        throw new LayerCorruptError(`${this.context}: entry ${JSON.stringify(name)} is below ${JSON.stringify(dir)}, which is not a directory`);
      }
      if (kind === 'whiteout') {
        this.whiteouts.delete(dir);
        this.opaque.add(dir);
      }
      // Made by the layer's order, not by a header: root-owned 0755, as docker does.
      fsSync.mkdirSync(this.full(dir), 0o755);
      this.kinds.set(dir, 'dir');
    }
  }

  /** Removes what this layer put at `path`; a directory goes with everything below it. */
  private async remove(path: string, kind: Kind): Promise<void> {
    const full = this.full(path);
    if (kind === 'dir') {
      await this.work.drain();
      this.work.throwIfFailed();
      await fs.rm(full, { recursive: true, force: true });
      const below = `${path}/`;
      for (const map of [this.kinds, this.directories, this.fifos, this.xattrs]) {
        for (const key of map.keys()) if (key.startsWith(below)) map.delete(key);
      }
      for (const set of [this.whiteouts, this.opaque]) {
        for (const key of set) if (key.startsWith(below)) set.delete(key);
      }
    } else if (kind === 'file' || kind === 'symlink') {
      await this.work.settled(path);
      this.work.throwIfFailed();
      fsSync.unlinkSync(full);
    }
    // Whiteouts and fifos are not on disk yet: forgetting them is enough.
    this.kinds.delete(path);
    this.directories.delete(path);
    this.fifos.delete(path);
    this.xattrs.delete(path);
    this.whiteouts.delete(path);
    this.opaque.delete(path);
  }

  /** `SCHILY.xattr.*` pax records: only `user.*` can be set by an unprivileged user. */
  private recordXattrs(path: string, header: Header): void {
    if (!header.pax) return;
    for (const [key, value] of Object.entries(header.pax)) {
      if (!key.startsWith('SCHILY.xattr.')) continue;
      const name = key.slice('SCHILY.xattr.'.length);
      if (!name.startsWith('user.') || header.type === 'symlink') {
        this.xattrsSkipped++;
        this.options.reporter.debug(`${this.context}: skipped xattr ${name} of ${header.name}`);
        continue;
      }
      const list = this.xattrs.get(path) ?? [];
      // tar-stream hands pax values over as UTF-8 text.
      list.push({ name, value: Buffer.from(value, 'utf8') });
      this.xattrs.set(path, list);
    }
  }

  private async chown(path: string, metadata: Metadata, change: () => Promise<void>): Promise<void> {
    if (!this.options.canChown) return;
    try {
      await change();
    } catch (err) {
      this.chownFailed(path, metadata, err);
    }
  }

  private chownSync(path: string, metadata: Metadata, change: () => void): void {
    if (!this.options.canChown) return;
    try {
      change();
    } catch (err) {
      this.chownFailed(path, metadata, err);
    }
  }

  /** EINVAL: the id has no mapping in this namespace; the file stays root's. */
  private chownFailed(path: string, metadata: Metadata, err: unknown): void {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    if (this.chownWarned) return;
    this.chownWarned = true;
    this.options.reporter.warn(
      `${this.context}: ${path} is owned by ${metadata.uid}:${metadata.gid}, which this user namespace does not map; such files keep the owner root (give the user a larger range in /etc/subuid and /etc/subgid)`,
    );
  }

  /** After the last entry: helper operations, then fifo and directory metadata. */
  private async finish(): Promise<void> {
    const ops = this.helperOps();
    if (ops.length > 0) await runFsOps(this.options.helper, this.root, ops, this.context);
    // Nothing here changes a directory's mtime, so the order does not matter.
    for (const [path, metadata] of [...this.fifos, ...this.directories]) {
      const full = this.full(path);
      try {
        this.chownSync(path, metadata, () => fsSync.lchownSync(full, metadata.uid, metadata.gid));
        fsSync.chmodSync(full, metadata.mode);
        fsSync.utimesSync(full, metadata.atime, metadata.mtime);
      } catch (err) {
        throw err instanceof TsboxError ? err : wrapError(`${this.context}: ${JSON.stringify(path)}`, err);
      }
    }
    if (this.devicesSkipped > 0) {
      const more = this.devicesSkipped > 1 ? '…' : '';
      this.options.reporter.warn(
        `${this.context}: skipped ${this.devicesSkipped} device node${this.devicesSkipped > 1 ? 's' : ''} (/${this.devices[0]}${more}): rootless containers cannot create them`,
      );
    }
    if (this.xattrsSkipped > 0) {
      this.options.reporter.debug(`${this.context}: skipped ${this.xattrsSkipped} extended attributes outside the user.* namespace`);
    }
  }

  private helperOps(): FsOp[] {
    const ops: FsOp[] = [];
    const at = (path: string) => (path === '' ? '.' : path);
    for (const [path, metadata] of this.fifos) ops.push({ op: 'fifo', path: at(path), mode: metadata.mode });
    for (const path of this.whiteouts) ops.push({ op: 'whiteout', path: at(path) });
    for (const path of this.opaque) if (this.kinds.get(path) === 'dir') ops.push({ op: 'opaque', path: at(path) });
    for (const [path, list] of this.xattrs) {
      for (const { name, value } of list) ops.push({ op: 'xattr', path: at(path), name, value });
    }
    return ops;
  }

  private full(path: string): string {
    return path === '' ? this.root : join(this.root, path);
  }
}

/** The umask, read without changing it (process.umask() would, for a moment); unknown: all bits. */
async function currentUmask(): Promise<number> {
  try {
    const match = /^Umask:\s*([0-7]+)$/m.exec(await fs.readFile('/proc/self/status', 'utf8'));
    if (match) return parseInt(match[1]!, 8);
  } catch {
    // no /proc: chmod every file
  }
  return 0o7777;
}

function metadataOf(header: Header): Metadata {
  const pax = header.pax ?? {};
  const number = (text: string | undefined, fallback: number) => {
    const value = text === undefined ? NaN : Number(text);
    return Number.isFinite(value) ? value : fallback;
  };
  const mtime = number(pax.mtime, (header.mtime?.getTime() ?? 0) / 1000);
  return {
    uid: number(pax.uid, header.uid ?? 0),
    gid: number(pax.gid, header.gid ?? 0),
    mode: (header.mode ?? 0o644) & 0o7777,
    mtime,
    atime: number(pax.atime, mtime),
  };
}

/** Writes every byte of `chunks`, however the kernel splits the writes. */
async function writeAll(file: FileHandle, chunks: Buffer[]): Promise<void> {
  let pending = chunks.filter((chunk) => chunk.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await file.writev(pending);
    while (pending.length > 0 && bytesWritten >= pending[0]!.length) {
      bytesWritten -= pending[0]!.length;
      pending.shift();
    }
    if (pending.length > 0 && bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
  }
}
