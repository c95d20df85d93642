// Disk usage as du counts it: st_blocks * 512 of every entry, each inode
// once. Layer and container files belong to mapped ids but are mostly
// readable; a directory the user cannot read (a 0700 directory of a mapped
// id) is walked again as root of the user namespace by ns-task.ts.
import { lstatSync, readdirSync } from 'node:fs';
import { join, sep } from 'node:path';

export interface WalkResult {
  bytes: number;
  /** directories that could not be read (their own size is counted) */
  unreadable: string[];
}

/** Walks `root` (absent: 0 bytes); `seen` holds "dev:ino" of inodes already counted. */
export function walkUsage(root: string, seen: Set<string> = new Set()): WalkResult {
  const result: WalkResult = { bytes: 0, unreadable: [] };
  const stack = [root];
  while (stack.length > 0) {
    const path = stack.pop()!;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue; // gone meanwhile, or below a directory we may search but not stat in
    }
    const key = `${st.dev}:${st.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      result.bytes += st.blocks * 512;
    }
    if (!st.isDirectory()) continue;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') result.unreadable.push(path);
      continue;
    }
    for (const name of names) stack.push(join(path, name));
  }
  return result;
}

/**
 * The disk usage of each path. Subtrees unreadable here are walked inside
 * the user namespace (one child for all of them) unless `namespace` is false.
 */
export async function diskUsage(paths: readonly string[], options: { namespace?: boolean } = {}): Promise<Map<string, number>> {
  const seen = new Set<string>();
  const sizes = new Map<string, number>();
  const unreadable: { owner: string; dir: string }[] = [];
  for (const path of paths) {
    const walked = walkUsage(path, seen);
    sizes.set(path, (sizes.get(path) ?? 0) + walked.bytes);
    for (const dir of walked.unreadable) unreadable.push({ owner: path, dir });
  }
  if (unreadable.length > 0 && options.namespace !== false) {
    const { runNamespaceTask } = await import('./ns-run.js');
    const inner = (await runNamespaceTask('du', unreadable.map((u) => u.dir))) as Record<string, number>;
    for (const { owner, dir } of unreadable) {
      // the directory itself was counted outside already; its contents are what the namespace adds
      sizes.set(owner, sizes.get(owner)! + Math.max(0, (inner[dir] ?? 0) - dirOwnBytes(dir)));
    }
  }
  return sizes;
}

function dirOwnBytes(dir: string): number {
  try {
    return lstatSync(dir).blocks * 512;
  } catch {
    return 0;
  }
}

/** True when `path` is `dir` or below it. */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}
