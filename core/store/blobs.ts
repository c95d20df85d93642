// Content-addressed blobs: manifests, indexes and image configs as pulled.
// Layer tarballs are not kept; they live on unpacked in layers/.
import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import type { StoreContext } from './context.js';
import { BlobNotFoundError, CorruptBlobError } from './errors.js';
import { digestHex } from './layout.js';

export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function blobPath(ctx: StoreContext, digest: string): string {
  return join(ctx.layout.blobsDir, digestHex(digest));
}

/** Stores `bytes` under `digest` after checking that they hash to it. Idempotent. */
export async function writeBlob(ctx: StoreContext, digest: string, bytes: Uint8Array): Promise<void> {
  const path = blobPath(ctx, digest);
  const actual = sha256Digest(bytes);
  if (actual !== digest) throw new CorruptBlobError(`blob ${digest}: content has digest ${actual}`);
  await ctx.prepareWrite();
  if (await hasBlob(ctx, digest)) return;
  await writeFileAtomic(path, bytes, 0o644);
}

/** The blob's bytes, checked against their digest so that disk corruption is never passed on. */
export async function readBlob(ctx: StoreContext, digest: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(blobPath(ctx, digest));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(digest);
    throw err;
  }
  const actual = sha256Digest(bytes);
  if (actual !== digest) throw new CorruptBlobError(`blob ${digest} is corrupt: its content has digest ${actual}`);
  return bytes;
}

export async function hasBlob(ctx: StoreContext, digest: string): Promise<boolean> {
  try {
    await fs.access(blobPath(ctx, digest));
    return true;
  } catch {
    return false;
  }
}
