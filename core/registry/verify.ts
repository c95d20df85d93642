// Checks bytes against a digest as they stream past; nothing unverified reaches the store.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BlobDigestMismatchError } from './errors.js';

export interface Expected {
  digest: string;
  size: number;
}

/** `sha256:<hex>` of a buffer. */
export function sha256Digest(bytes: Buffer | Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function hashFor(digest: string): { algorithm: string; hex: string } {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  if (colon < 0 || (algorithm !== 'sha256' && algorithm !== 'sha512')) {
    throw new BlobDigestMismatchError(`unsupported digest ${JSON.stringify(digest)}: tsbox verifies sha256 and sha512`);
  }
  return { algorithm, hex: digest.slice(colon + 1) };
}

/**
 * A pass-through that hashes everything; it fails at the end when the digest
 * or size differs, or as soon as more than `size` bytes have passed.
 */
export function verifyDigest(expected: Expected): Transform {
  const { algorithm, hex } = hashFor(expected.digest);
  const hash = createHash(algorithm);
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > expected.size) {
        callback(new BlobDigestMismatchError(`blob ${expected.digest}: more than the expected ${expected.size} bytes`, { hint: CORRUPT_HINT }));
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      if (seen !== expected.size) {
        callback(new BlobDigestMismatchError(`blob ${expected.digest}: got ${seen} bytes, expected ${expected.size}`, { hint: CORRUPT_HINT }));
        return;
      }
      const actual = hash.digest('hex');
      if (actual !== hex) {
        callback(new BlobDigestMismatchError(`blob ${expected.digest}: digest mismatch, got ${algorithm}:${actual}`, { hint: CORRUPT_HINT }));
        return;
      }
      callback();
    },
  });
}

/** Nothing unverified is kept: what to do when a registry sends other bytes than it promised. */
export const CORRUPT_HINT = 'nothing was stored; pull again, and if it repeats the registry or a mirror serves corrupt data: pull without the mirror or tell its operator';
