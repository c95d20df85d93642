// Where each thing lives under the store root (docs/internals.md, "Image store").
import { join } from 'node:path';
import { TsboxError } from '../errors.js';

export interface StoreLayout {
  root: string;
  storageFile: string;
  lockFile: string;
  blobsDir: string;
  layersDir: string;
  imagesDir: string;
  tmpDir: string;
  downloadsDir: string;
}

export function storeLayout(root: string): StoreLayout {
  return {
    root,
    storageFile: join(root, 'storage.json'),
    lockFile: join(root, 'store.lock'),
    blobsDir: join(root, 'blobs', 'sha256'),
    layersDir: join(root, 'layers'),
    imagesDir: join(root, 'images'),
    tmpDir: join(root, 'tmp'),
    downloadsDir: join(root, 'downloads'),
  };
}

const SHA256 = /^sha256:([0-9a-f]{64})$/;

/** The hex part of a `sha256:<hex>` digest; throws on anything else (never a path component from outside). */
export function digestHex(digest: string): string {
  const match = SHA256.exec(digest);
  if (!match) throw new TsboxError(`invalid digest ${JSON.stringify(digest)}: the store holds sha256 digests only`);
  return match[1]!;
}

export function isDigest(value: string): boolean {
  return SHA256.test(value);
}
