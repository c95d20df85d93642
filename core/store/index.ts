// The image store: blobs, layers, images and their names under storeRoot(),
// crash-safe (atomic renames) and shared safely by concurrent tsbox
// processes (the store lock). See docs/internals.md, "Image store".
import { promises as fs } from 'node:fs';
import { storeRoot } from '../paths.js';
import { writeFileAtomic } from './atomic.js';
import { hasBlob, readBlob, writeBlob } from './blobs.js';
import type { StoreContext } from './context.js';
import { MappingChangedError } from './errors.js';
import {
  commitImage,
  findImage,
  listImages,
  readImage,
  removeImage,
  tagImage,
  untagImage,
  type ImageRecord,
} from './images.js';
import {
  commitLayer,
  hasLayer,
  holdLayers,
  layerPath,
  listLayers,
  newLayerWorkDir,
  readLayer,
  type LayerInfo,
} from './layers.js';
import { storeLayout, type StoreLayout } from './layout.js';
import { withLock, type LockOptions } from './lock.js';
import { removeUnusedLayers, repair, sweepTmp, type RepairReport, type SweepProblem } from './sweep.js';
import { TsboxError, wrapError } from '../errors.js';

export { chainIds, type LayerInfo } from './layers.js';
export { sha256Digest } from './blobs.js';
export type { ImageRecord } from './images.js';
export type { RepairReport, SweepProblem } from './sweep.js';
export { writeFileAtomic, commitDirectory } from './atomic.js';
export { acquireLock, withLock, StoreLockTimeoutError, DEFAULT_LOCK_TIMEOUT_MS, type LockOptions } from './lock.js';
export {
  ImageNotFoundError,
  LayerNotFoundError,
  BlobNotFoundError,
  CorruptBlobError,
  AmbiguousImageError,
  MappingChangedError,
} from './errors.js';

export const STORE_VERSION = 1;

/** The parts of core/userns's UserMapping that decide who owns the files in layers. */
export interface StoreMapping {
  uids: { inside: number; outside: number; count: number }[];
  gids: { inside: number; outside: number; count: number }[];
}

export interface StoreOptions extends LockOptions {
  /** default storeRoot() */
  root?: string;
  /**
   * The id mapping in force now. Checked against storage.json when given;
   * required for the first write (it is recorded then). Read-only use may omit it.
   */
  mapping?: StoreMapping;
}

function describeMapping(m: StoreMapping): string {
  const ranges = (r: StoreMapping['uids']) => r.map((x) => `${x.inside}:${x.outside}:${x.count}`).join(',');
  return `uids ${ranges(m.uids)} gids ${ranges(m.gids)}`;
}

function sameMapping(a: StoreMapping, b: StoreMapping): boolean {
  const key = (m: StoreMapping) => JSON.stringify([m.uids, m.gids].map((r) => r.map((x) => [x.inside, x.outside, x.count])));
  return key(a) === key(b);
}

export class ImageStore {
  readonly layout: StoreLayout;
  private readonly ctx: StoreContext;
  private prepared = false;

  constructor(private readonly options: StoreOptions = {}) {
    this.layout = storeLayout(options.root ?? storeRoot());
    this.ctx = {
      layout: this.layout,
      locked: (fn) => withLock(this.layout.lockFile, fn, options),
      prepareWrite: () => this.initialize(),
    };
  }

  get root(): string {
    return this.layout.root;
  }

  /** Reads storage.json and compares its mapping with the current one (when known). */
  async check(): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(this.layout.storageFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // created on first write
      throw wrapError(`cannot read the image store in ${this.root}`, err);
    }
    const recorded = JSON.parse(text) as { version: number; mapping: StoreMapping };
    if (recorded.version !== STORE_VERSION) {
      throw new TsboxError(`store ${this.root} has version ${recorded.version}, this tsbox reads version ${STORE_VERSION}`, {
        hint: 'use the tsbox that made it, or start afresh: move the store aside, or point TSBOX_ROOT elsewhere, or remove it with tsbox system reset',
      });
    }
    const now = this.options.mapping;
    if (now && !sameMapping(recorded.mapping, now)) {
      throw new MappingChangedError(
        `the subordinate id ranges changed since the store was created (was ${describeMapping(recorded.mapping)}, now ${describeMapping(now)}): run tsbox system migrate`,
      );
    }
  }

  /** Creates the directories and storage.json (with the mapping given to openStore) if they are missing. */
  async initialize(): Promise<void> {
    if (this.prepared) return;
    const l = this.layout;
    try {
      for (const dir of [l.root, l.blobsDir, l.layersDir, l.imagesDir, l.tmpDir, l.downloadsDir]) {
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      }
    } catch (err) {
      throw wrapError(`cannot create the image store in ${l.root}`, err);
    }
    try {
      await fs.access(l.storageFile);
    } catch {
      const mapping = this.options.mapping;
      if (!mapping) throw new TsboxError(`cannot create the store in ${l.root} without knowing the id mapping`);
      const record = { version: STORE_VERSION, mapping: { uids: mapping.uids, gids: mapping.gids } };
      await writeFileAtomic(l.storageFile, `${JSON.stringify(record, null, 2)}\n`, 0o600);
    }
    this.prepared = true;
  }

  /** Runs `fn` under the store lock (not re-entrant). */
  withStoreLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.ctx.locked(fn);
  }

  writeBlob(digest: string, bytes: Uint8Array): Promise<void> {
    return writeBlob(this.ctx, digest, bytes);
  }
  readBlob(digest: string): Promise<Buffer> {
    return readBlob(this.ctx, digest);
  }
  hasBlob(digest: string): Promise<boolean> {
    return hasBlob(this.ctx, digest);
  }

  layerPath(chainId: string): string {
    return layerPath(this.ctx, chainId);
  }
  hasLayer(chainId: string): Promise<boolean> {
    return hasLayer(this.ctx, chainId);
  }
  readLayer(chainId: string): Promise<LayerInfo> {
    return readLayer(this.ctx, chainId);
  }
  listLayers(): Promise<string[]> {
    return listLayers(this.ctx);
  }
  newLayerWorkDir(): Promise<string> {
    return newLayerWorkDir(this.ctx);
  }
  commitLayer(workDir: string, info: LayerInfo): Promise<'committed' | 'exists'> {
    return commitLayer(this.ctx, workDir, info);
  }
  holdLayers(chainIdList: readonly string[]): Promise<() => Promise<void>> {
    return holdLayers(this.ctx, chainIdList);
  }

  commitImage(record: ImageRecord): Promise<ImageRecord> {
    return commitImage(this.ctx, record);
  }
  listImages(): Promise<ImageRecord[]> {
    return listImages(this.ctx);
  }
  readImage(id: string): Promise<ImageRecord | undefined> {
    return readImage(this.ctx, id);
  }
  findImage(nameOrId: string): Promise<ImageRecord> {
    return findImage(this.ctx, nameOrId);
  }
  tagImage(id: string, name: string): Promise<ImageRecord> {
    return tagImage(this.ctx, id, name);
  }
  untagImage(id: string, name: string): Promise<boolean> {
    return untagImage(this.ctx, id, name);
  }
  removeImage(id: string): Promise<void> {
    return removeImage(this.ctx, id);
  }

  removeUnusedLayers(): Promise<string[]> {
    return removeUnusedLayers(this.ctx);
  }
  sweepTmp(): Promise<{ removed: string[]; failed: SweepProblem[] }> {
    return sweepTmp(this.ctx);
  }
  repair(): Promise<RepairReport> {
    return repair(this.ctx);
  }
}

/** Opens the store (nothing is created until the first write); throws MappingChangedError when the mapping changed. */
export async function openStore(options: StoreOptions = {}): Promise<ImageStore> {
  const store = new ImageStore(options);
  await store.check();
  return store;
}

/** Opens the store and creates its directories and storage.json now. */
export async function initStore(mapping: StoreMapping, options: Omit<StoreOptions, 'mapping'> = {}): Promise<ImageStore> {
  const store = await openStore({ ...options, mapping });
  await store.initialize();
  return store;
}
