// Entry names as tar writes them ("./usr/bin/", "etc//hosts") turned into
// canonical paths relative to the layer root, refusing any that could leave it.
import { LayerUnsafeError } from './errors.js';

/**
 * Canonical relative path of a tar entry name: no leading "./", no empty or
 * "." components, no trailing "/". The layer root itself is "".
 * Throws LayerUnsafeError for absolute names, ".." components and NULs.
 */
export function entryPath(name: string, layer: string): string {
  if (name.startsWith('/')) throw outside(name, layer);
  if (name.includes('\0')) {
    throw new LayerUnsafeError(`${layer}: entry ${JSON.stringify(name)} has a NUL byte in its name`);
  }
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw outside(name, layer);
    parts.push(part);
  }
  return parts.join('/');
}

export function outside(name: string, layer: string): LayerUnsafeError {
  return new LayerUnsafeError(`${layer}: entry ${JSON.stringify(name)} points outside the layer`);
}

/** "a/b/c" -> "a/b"; "a" -> "" (the root). */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** "a/b/c" -> "c". */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** "a/b/c" -> ["a", "a/b"]: every ancestor below the root, outermost first. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  let at = path.indexOf('/');
  while (at >= 0) {
    out.push(path.slice(0, at));
    at = path.indexOf('/', at + 1);
  }
  return out;
}
