// Garbage collection and repair. Nothing here makes a command fail because
// of what a crash left behind: leftovers are reported and removed.
// Removing layer directories (and tmp/ entries that hold unpacked files) must
// run inside the user namespace: their files belong to mapped ids.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { describeSystemError } from '../errors.js';
import { isTempName } from './atomic.js';
import type { StoreContext } from './context.js';
import { listImages, readImage, removeImageUnlocked } from './images.js';
import { hasLayer, heldLayers, listLayers, removeLayerDir } from './layers.js';
import { isOwnerAlive, ownerFromName } from './owner.js';

/** Dead owners' entries are garbage; names without an owner are not ours to judge. */
function ownerIsLive(name: string): boolean {
  const owner = ownerFromName(name);
  return owner === undefined || isOwnerAlive(owner);
}

/** Removes layers that no image uses and no live pull holds; returns their chain ids. Takes the store lock. */
export async function removeUnusedLayers(ctx: StoreContext): Promise<string[]> {
  return ctx.locked(async () => {
    const used = new Set<string>();
    for (const image of await listImages(ctx)) for (const chainId of image.layers) used.add(chainId);
    for (const chainId of await heldLayers(ctx, ownerIsLive)) used.add(chainId);
    const removed: string[] = [];
    for (const chainId of await listLayers(ctx)) {
      if (used.has(chainId)) continue;
      await removeLayerDir(ctx, chainId);
      removed.push(chainId);
    }
    return removed;
  });
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch {
    return [];
  }
}

export interface SweepProblem {
  path: string;
  reason: string;
}

/**
 * Removes work in progress whose owner (the pid and start time in its name)
 * is dead: entries of tmp/ and downloads/, and temp files left beside
 * store files by an interrupted atomic write. Entries of live owners, and
 * resumable downloads (`<hex>.partial`, which name no owner), are left alone.
 * Returns what it removed; what it could not remove is in `failed`.
 */
export async function sweepTmp(ctx: StoreContext): Promise<{ removed: string[]; failed: SweepProblem[] }> {
  const { layout } = ctx;
  const removed: string[] = [];
  const failed: SweepProblem[] = [];
  const candidates: string[] = [];
  for (const dir of [layout.tmpDir, layout.downloadsDir]) {
    for (const name of await readdirOrEmpty(dir)) candidates.push(join(dir, name));
  }
  const besideFiles = [layout.root, layout.blobsDir, layout.layersDir, layout.imagesDir];
  for (const id of await readdirOrEmpty(layout.imagesDir)) besideFiles.push(join(layout.imagesDir, id));
  for (const dir of besideFiles) {
    for (const name of await readdirOrEmpty(dir)) if (isTempName(name)) candidates.push(join(dir, name));
  }
  for (const path of candidates) {
    const owner = ownerFromName(path);
    if (!owner || isOwnerAlive(owner)) continue;
    try {
      await fs.rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch (err) {
      failed.push({ path, reason: describeSystemError(err) });
    }
  }
  return { removed, failed };
}

export interface RepairReport {
  /** images removed, with why */
  images: { id: string; reason: string }[];
  /** layer directories removed because they were not whole */
  layers: string[];
}

/**
 * Removes what is broken and only that: images whose image.json cannot be
 * read or whose layers are missing, and layer directories without layer.json.
 * Takes the store lock.
 */
export async function repair(ctx: StoreContext): Promise<RepairReport> {
  return ctx.locked(async () => {
    const report: RepairReport = { images: [], layers: [] };
    for (const chainId of await listLayers(ctx)) {
      if (await hasLayer(ctx, chainId)) continue;
      await removeLayerDir(ctx, chainId);
      report.layers.push(chainId);
    }
    for (const id of await readdirOrEmpty(ctx.layout.imagesDir)) {
      if (!/^[0-9a-f]{64}$/.test(id)) continue;
      const record = await readImage(ctx, id);
      let reason: string | undefined;
      if (!record) {
        reason = 'image.json is missing or unreadable';
      } else {
        for (const chainId of record.layers) {
          if (!(await hasLayer(ctx, chainId))) {
            reason = `layer ${chainId} is missing`;
            break;
          }
        }
      }
      if (reason === undefined) continue;
      await removeImageUnlocked(ctx, id);
      report.images.push({ id, reason });
    }
    return report;
  });
}
