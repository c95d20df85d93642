// Random ids and name suffixes. node:crypto is loaded on first use, not at
// start: it costs some 3 ms, and commands that make no new id (ps, exec,
// logs) should not pay for it.
import { createRequire } from 'node:module';

let crypto: typeof import('node:crypto') | undefined;

function loadCrypto(): typeof import('node:crypto') {
  return (crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));
}

/** `bytes` random bytes as 2×bytes lowercase hex digits. */
export function randomHex(bytes: number): string {
  return loadCrypto().randomBytes(bytes).toString('hex');
}

/** A random integer in [0, limit), for limit ≤ 65536. */
export function randomBelow(limit: number): number {
  return loadCrypto().randomInt(limit);
}
