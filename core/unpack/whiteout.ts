// OCI image-spec whiteouts: ".wh.NAME" deletes NAME from the lower layers,
// ".wh..wh..opq" hides everything the lower layers have in its directory.

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export type WhiteoutEntry =
  /** `path` is the whited-out path (".wh." removed). */
  | { kind: 'whiteout'; path: string }
  /** `path` is the directory made opaque. */
  | { kind: 'opaque'; path: string }
  /** aufs bookkeeping (".wh..wh.plnk", ".wh..wh.aufs"): means nothing to overlayfs. */
  | { kind: 'aufs-meta' }
  /** ".wh.", ".wh.." or ".wh...": would delete the directory itself or its parent. */
  | { kind: 'invalid' };

/** What a canonical entry path means as a whiteout, or undefined for an ordinary entry. */
export function classifyWhiteout(path: string): WhiteoutEntry | undefined {
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  const dir = slash < 0 ? '' : path.slice(0, slash);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', path: dir };
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return { kind: 'aufs-meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') return { kind: 'invalid' };
  return { kind: 'whiteout', path: dir === '' ? name : `${dir}/${name}` };
}
