// Unpacked layers, one directory per chain id, shared by every image that
// has the same stack of layers below and including it. A layer is unpacked in
// a work directory under tmp/ and then renamed into place, so a layer
// directory that exists is always complete.
import { promises as fs } from 'node:fs';
import { randomHex } from '../random.js';
import { join } from 'node:path';
import { TsboxError } from '../errors.js';
import { commitDirectory, isTempName, writeFileAtomic } from './atomic.js';
import { sha256Digest } from './blobs.js';
import type { StoreContext } from './context.js';
import { LayerNotFoundError } from './errors.js';
import { digestHex, isDigest } from './layout.js';
import { ownerSuffix } from './owner.js';

export interface LayerInfo {
  /** sha256 of the uncompressed tar stream */
  diffId: string;
  chainId: string;
  /** the chain id of the layer below, or null for the bottom layer */
  parent: string | null;
  /** digest of the blob it was unpacked from (registry form); absent for layers made locally */
  compressedDigest?: string;
  /** bytes of the uncompressed tar stream */
  size: number;
}

/** OCI chain ids: chainId(L0) = diffId(L0); chainId(Ln) = sha256(chainId(Ln-1) + " " + diffId(Ln)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const below = out[out.length - 1];
    out.push(below === undefined ? diffId : sha256Digest(`${below} ${diffId}`));
  }
  return out;
}

function layerDir(ctx: StoreContext, chainId: string): string {
  return join(ctx.layout.layersDir, digestHex(chainId));
}

/** The layer's root directory (its `diff`), what overlayfs stacks. */
export function layerPath(ctx: StoreContext, chainId: string): string {
  return join(layerDir(ctx, chainId), 'diff');
}

export async function hasLayer(ctx: StoreContext, chainId: string): Promise<boolean> {
  try {
    await fs.access(join(layerDir(ctx, chainId), 'layer.json'));
    return true;
  } catch {
    return false;
  }
}

export async function readLayer(ctx: StoreContext, chainId: string): Promise<LayerInfo> {
  let text: string;
  try {
    text = await fs.readFile(join(layerDir(ctx, chainId), 'layer.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new LayerNotFoundError(chainId);
    throw err;
  }
  return JSON.parse(text) as LayerInfo;
}

/** Chain ids of every committed layer. */
export async function listLayers(ctx: StoreContext): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(ctx.layout.layersDir);
  } catch {
    return [];
  }
  return names.filter((name) => /^[0-9a-f]{64}$/.test(name)).map((hex) => `sha256:${hex}`);
}

/**
 * A fresh work directory under tmp/ named after this process (swept once it
 * is dead), with an empty `diff/` inside: unpack the layer into `<dir>/diff`.
 */
export async function newLayerWorkDir(ctx: StoreContext): Promise<string> {
  await ctx.prepareWrite();
  const dir = join(ctx.layout.tmpDir, `layer-${randomHex(6)}.${ownerSuffix()}`);
  await fs.mkdir(dir, { mode: 0o700 });
  await fs.mkdir(join(dir, 'diff'), { mode: 0o755 });
  return dir;
}

/**
 * Moves a finished work directory into layers/<chain id hex>, with layer.json
 * written inside first. 'exists' when the same layer was committed meanwhile
 * (another pull): the work directory is then removed and the existing one wins.
 * The caller must be inside the user namespace when the layer has mapped owners.
 */
export async function commitLayer(ctx: StoreContext, workDir: string, info: LayerInfo): Promise<'committed' | 'exists'> {
  if (!isDigest(info.diffId) || !isDigest(info.chainId)) throw new TsboxError(`layer ${info.chainId}: invalid diff id or chain id`);
  const expected = info.parent === null ? info.diffId : sha256Digest(`${info.parent} ${info.diffId}`);
  if (expected !== info.chainId) {
    throw new TsboxError(`layer ${info.chainId}: chain id does not follow from parent ${info.parent} and diff id ${info.diffId}`);
  }
  if (info.parent !== null && !(await hasLayer(ctx, info.parent))) throw new LayerNotFoundError(info.parent);
  const record: LayerInfo = { diffId: info.diffId, chainId: info.chainId, parent: info.parent, size: info.size };
  if (info.compressedDigest !== undefined) record.compressedDigest = info.compressedDigest;
  await writeFileAtomic(join(workDir, 'layer.json'), `${JSON.stringify(record, null, 2)}\n`);
  const outcome = await commitDirectory(workDir, layerDir(ctx, info.chainId));
  if (outcome === 'exists') await fs.rm(workDir, { recursive: true, force: true });
  return outcome;
}

/**
 * Removes a layer: first renamed out of layers/ (one atomic step, so a kill
 * midway never leaves a half-deleted layer that looks whole), then deleted.
 * Must run inside the user namespace: the files belong to mapped ids.
 */
export async function removeLayerDir(ctx: StoreContext, chainId: string): Promise<void> {
  const doomed = join(ctx.layout.tmpDir, `removing-${digestHex(chainId).slice(0, 12)}-${randomHex(4)}.${ownerSuffix()}`);
  await fs.mkdir(ctx.layout.tmpDir, { recursive: true });
  try {
    await fs.rename(layerDir(ctx, chainId), doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await fs.rm(doomed, { recursive: true, force: true });
}

/**
 * Keeps layers from being collected while a pull that has not yet committed
 * its image uses them. Take the hold before checking hasLayer(); release it
 * after commitImage(). The hold is a file in tmp/ named after this process,
 * so it lapses by itself if the process dies.
 */
export async function holdLayers(ctx: StoreContext, chainIdList: readonly string[]): Promise<() => Promise<void>> {
  await ctx.prepareWrite();
  const path = join(ctx.layout.tmpDir, `hold-${randomHex(6)}.${ownerSuffix()}`);
  await writeFileAtomic(path, JSON.stringify(chainIdList));
  return () => fs.rm(path, { force: true });
}

/** Chain ids held by live processes (see holdLayers); holds of dead owners are ignored. */
export async function heldLayers(ctx: StoreContext, isLive: (name: string) => boolean): Promise<Set<string>> {
  const held = new Set<string>();
  let names: string[];
  try {
    names = await fs.readdir(ctx.layout.tmpDir);
  } catch {
    return held;
  }
  for (const name of names) {
    if (!name.startsWith('hold-') || isTempName(name) || !isLive(name)) continue;
    try {
      for (const id of JSON.parse(await fs.readFile(join(ctx.layout.tmpDir, name), 'utf8')) as string[]) held.add(id);
    } catch {
      // released while we read it
    }
  }
  return held;
}
