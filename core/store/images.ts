// Image records and their names. Each image is images/<id>/image.json,
// written atomically; names (tags) move between images only under the store
// lock, so two processes tagging at once cannot leave a name on two images.
import { promises as fs } from 'node:fs';
import { randomHex } from '../random.js';
import { join } from 'node:path';
import { isShortName, parseReference } from '../reference/index.js';
import { writeFileAtomic } from './atomic.js';
import type { StoreContext } from './context.js';
import { AmbiguousImageError, ImageNotFoundError, LayerNotFoundError } from './errors.js';
import { hasLayer } from './layers.js';
import { digestHex } from './layout.js';
import { ownerSuffix } from './owner.js';

export interface ImageRecord {
  /** the config digest's hex: podman's image id */
  id: string;
  /** the manifest digest, 'sha256:…' (podman's Digest) */
  digest: string;
  /** 'docker.io/library/alpine@sha256:…': the names by which this manifest was pulled */
  repoDigests: string[];
  /** 'docker.io/library/alpine:latest': full, normalised tags; empty for a dangling image */
  names: string[];
  manifestDigest: string;
  configDigest: string;
  /** chain ids, bottom layer first */
  layers: string[];
  diffIds: string[];
  /** RFC 3339, from the image config */
  created: string;
  architecture: string;
  os: string;
  variant?: string;
  /** sum of the layers' uncompressed sizes */
  size: number;
  /** RFC 3339, when it was stored */
  pulledAt: string;
}

const ID = /^[0-9a-f]{64}$/;
const ID_PREFIX = /^[0-9a-f]{3,64}$/;

function imageDir(ctx: StoreContext, id: string): string {
  if (!ID.test(id)) throw new ImageNotFoundError(id);
  return join(ctx.layout.imagesDir, id);
}

/** The record of image `id`, or undefined when it is absent or unreadable. */
export async function readImage(ctx: StoreContext, id: string): Promise<ImageRecord | undefined> {
  try {
    const record = JSON.parse(await fs.readFile(join(imageDir(ctx, id), 'image.json'), 'utf8')) as ImageRecord;
    return record.id === id && Array.isArray(record.names) && Array.isArray(record.layers) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Every readable image, newest first. Directories without a readable image.json are skipped (repair() removes them). */
export async function listImages(ctx: StoreContext): Promise<ImageRecord[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(ctx.layout.imagesDir);
  } catch {
    return [];
  }
  const records: ImageRecord[] = [];
  for (const name of entries) {
    if (!ID.test(name)) continue;
    const record = await readImage(ctx, name);
    if (record) records.push(record);
  }
  return records.sort((a, b) => b.created.localeCompare(a.created) || a.id.localeCompare(b.id));
}

async function writeImage(ctx: StoreContext, record: ImageRecord): Promise<void> {
  const dir = imageDir(ctx, record.id);
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, 'image.json'), `${JSON.stringify(record, null, 2)}\n`);
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

/** Takes `names` off every image but `keepId` (a tag moves, as in podman). Call under the lock. */
async function takeNamesFromOthers(ctx: StoreContext, keepId: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  for (const other of await listImages(ctx)) {
    if (other.id === keepId || !other.names.some((n) => names.includes(n))) continue;
    // Left with no names, the other image stays, as a dangling <none>.
    await writeImage(ctx, { ...other, names: other.names.filter((n) => !names.includes(n)) });
  }
}

/**
 * Records an image whose layers are all committed. An image with the same id
 * keeps its names and gains these; the names move here from any other image.
 */
export async function commitImage(ctx: StoreContext, record: ImageRecord): Promise<ImageRecord> {
  if (digestHex(record.configDigest) !== record.id) throw new ImageNotFoundError(record.id);
  await ctx.prepareWrite();
  return ctx.locked(async () => {
    for (const chainId of record.layers) {
      if (!(await hasLayer(ctx, chainId))) throw new LayerNotFoundError(chainId);
    }
    const existing = await readImage(ctx, record.id);
    const merged: ImageRecord = existing
      ? { ...record, names: union(existing.names, record.names), repoDigests: union(existing.repoDigests, record.repoDigests) }
      : record;
    // This image first: a crash in between leaves a name on two images, never on none.
    await writeImage(ctx, merged);
    await takeNamesFromOthers(ctx, merged.id, merged.names);
    return merged;
  });
}

/** Where `name` points; newest first when a crash left it on two images. */
function byName(images: ImageRecord[], name: string): ImageRecord | undefined {
  return images.filter((i) => i.names.includes(name)).sort((a, b) => b.pulledAt.localeCompare(a.pulledAt))[0];
}

/** The name part ('a/b') and the tag or digest of what the user typed, without parsing the registry. */
function splitTail(input: string): { path: string; suffix: string } {
  const at = input.indexOf('@');
  const name = at === -1 ? input : input.slice(0, at);
  const colon = name.lastIndexOf(':');
  const path = colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
  return { path, suffix: at === -1 ? `:${colon > name.lastIndexOf('/') ? name.slice(colon + 1) : 'latest'}` : input.slice(at) };
}

function findByName(images: ImageRecord[], input: string): ImageRecord | undefined {
  let ref;
  try {
    ref = parseReference(input);
  } catch {
    return undefined; // not a name: maybe an id prefix
  }
  const digestMatch = (full: string) => images.find((i) => i.repoDigests.includes(full));
  if (ref.digest !== undefined) {
    const full = `${ref.registry}/${ref.repository}@${ref.digest}`;
    if (!isShortName(input)) return digestMatch(full);
    const { path } = splitTail(input);
    return (
      digestMatch(full) ??
      digestMatch(`localhost/${path}@${ref.digest}`) ??
      images.find((i) => i.repoDigests.some((d) => d.endsWith(`/${path}@${ref.digest}`)))
    );
  }
  const full = `${ref.registry}/${ref.repository}:${ref.tag}`;
  if (!isShortName(input)) return byName(images, full);
  // A short name matches */NAME:TAG, preferring docker.io(/library), then localhost, then any other registry.
  const { path } = splitTail(input);
  const tail = `/${path}:${ref.tag}`;
  const others = images
    .flatMap((i) => i.names.filter((n) => n.endsWith(tail) && !n.slice(0, -tail.length).includes('/')))
    .sort();
  return byName(images, full) ?? byName(images, `localhost${tail}`) ?? (others[0] ? byName(images, others[0]) : undefined);
}

/**
 * Finds an image by what a user typed: a full or short name, name@digest, a
 * full id (with or without `sha256:`) or an unambiguous id prefix of at least 3 hex digits.
 */
export async function findImage(ctx: StoreContext, nameOrId: string): Promise<ImageRecord> {
  const images = await listImages(ctx);
  const bare = nameOrId.startsWith('sha256:') ? nameOrId.slice('sha256:'.length) : nameOrId;
  const exact = images.find((i) => i.id === bare);
  if (exact) return exact;
  if (!nameOrId.startsWith('sha256:')) {
    const named = findByName(images, nameOrId);
    if (named) return named;
  }
  if (ID_PREFIX.test(bare)) {
    const matches = images.filter((i) => i.id.startsWith(bare));
    if (matches.length > 1) throw new AmbiguousImageError(`${nameOrId}: image id prefix is ambiguous: it matches ${matches.length} images`);
    if (matches[0]) return matches[0];
  }
  throw new ImageNotFoundError(nameOrId);
}

/** Gives image `id` the full name `name` (normalise it first), taking it off any other image. */
export async function tagImage(ctx: StoreContext, id: string, name: string): Promise<ImageRecord> {
  return ctx.locked(async () => {
    const record = await readImage(ctx, id);
    if (!record) throw new ImageNotFoundError(id);
    const updated = { ...record, names: union(record.names, [name]) };
    await writeImage(ctx, updated);
    await takeNamesFromOthers(ctx, id, [name]);
    return updated;
  });
}

/** Takes `name` off image `id`; false when it did not have it. The image stays, dangling if it was its last name. */
export async function untagImage(ctx: StoreContext, id: string, name: string): Promise<boolean> {
  return ctx.locked(async () => {
    const record = await readImage(ctx, id);
    if (!record) throw new ImageNotFoundError(id);
    if (!record.names.includes(name)) return false;
    await writeImage(ctx, { ...record, names: record.names.filter((n) => n !== name) });
    return true;
  });
}

/**
 * Deletes the image record (its layers stay until removeUnusedLayers()).
 * Renamed out of images/ first, so a kill midway leaves no half image.
 */
export async function removeImage(ctx: StoreContext, id: string): Promise<void> {
  await ctx.locked(() => removeImageUnlocked(ctx, id));
}

export async function removeImageUnlocked(ctx: StoreContext, id: string): Promise<void> {
  await fs.mkdir(ctx.layout.tmpDir, { recursive: true });
  const doomed = join(ctx.layout.tmpDir, `removing-${id.slice(0, 12)}-${randomHex(4)}.${ownerSuffix()}`);
  try {
    await fs.rename(imageDir(ctx, id), doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageNotFoundError(id);
    throw err;
  }
  await fs.rm(doomed, { recursive: true, force: true });
}
