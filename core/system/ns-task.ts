// The part of `system df`, `system prune` and `system migrate` that must run
// as root of the user's mapped namespace, where the files of mapped ids can
// be read, removed and re-owned. Run by ns-run.ts through ns-task-main.ts,
// `node ns-task-main.js TASK ARGS...`, which prints the answer as JSON.
//
//   du DIR...      {DIR: bytes}: disk usage (st_blocks*512, each inode once)
//   gc             {layers, removed, failed}: the store's unused layers and dead work in progress removed
//   reown PLAN     ReownResult: every file under plan.root re-owned by the plan's id segments
import { chmodSync, lchownSync, lstatSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { walkUsage } from './usage.js';

/** Ids from..from+count-1 become to..to+count-1 (namespace ids). */
export interface Segment {
  from: number;
  to: number;
  count: number;
}

export interface ReownPlan {
  root: string;
  uids: Segment[];
  gids: Segment[];
}

export interface ReownResult {
  /** entries whose owner or group changed */
  changed: number;
  /** setuid/setgid bits chown cleared and that were put back */
  modesRestored: number;
  /** files whose security.capability was put back */
  capabilities: number;
  warnings: string[];
}

export function translateId(segments: readonly Segment[], id: number): number {
  for (const s of segments) if (id >= s.from && id < s.from + s.count) return s.to + (id - s.from);
  return id;
}

/**
 * Re-owns every entry under plan.root once (hard links are one inode: a
 * second visit must not translate again). lchown never follows a symlink;
 * chown clears setuid/setgid bits and file capabilities, so the mode is set
 * again and security.capability (read first with getfattr) restored.
 */
export function reown(plan: ReownPlan): ReownResult {
  const result: ReownResult = { changed: 0, modesRestored: 0, capabilities: 0, warnings: [] };
  const capDump = readCapabilities(plan.root, result);
  const seen = new Set<string>();
  const stack = [plan.root];
  while (stack.length > 0) {
    const path = stack.pop()!;
    const st = lstatSync(path);
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const uid = translateId(plan.uids, st.uid);
    const gid = translateId(plan.gids, st.gid);
    if (uid !== st.uid || gid !== st.gid) {
      lchownSync(path, uid, gid);
      result.changed++;
      if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) {
        chmodSync(path, st.mode & 0o7777);
        result.modesRestored++;
      }
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) stack.push(join(path, name));
  }
  if (capDump) {
    const restored = spawnSync('setfattr', ['-h', '--restore=-'], { input: capDump, encoding: 'utf8' });
    if (restored.status !== 0) result.warnings.push(`restoring file capabilities: ${restored.stderr.trim() || restored.error?.message}`);
  }
  return result;
}

/** getfattr's dump of every security.capability under root ('' when none). */
function readCapabilities(root: string, result: ReownResult): string {
  const dump = spawnSync('getfattr', ['-R', '-P', '-d', '-m', '^security\\.capability$', '-e', 'hex', '--absolute-names', root], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (dump.error) {
    result.warnings.push('getfattr not found (the attr package): file capabilities in the store, if any, are lost by the re-owning');
    return '';
  }
  result.capabilities = (dump.stdout.match(/^# file: /gm) ?? []).length;
  return dump.stdout;
}

async function gc(): Promise<unknown> {
  const { openStore } = await import('../store/index.js');
  const store = await openStore();
  const layers = await store.removeUnusedLayers();
  const { removed, failed } = await store.sweepTmp();
  return { layers, removed, failed };
}

export async function runTask(task: string, args: string[]): Promise<unknown> {
  switch (task) {
    case 'du': {
      const sizes: Record<string, number> = {};
      const seen = new Set<string>();
      for (const dir of args) sizes[dir] = walkUsage(dir, seen).bytes;
      return sizes;
    }
    case 'gc':
      return gc();
    case 'reown':
      return reown(JSON.parse(args[0]!) as ReownPlan);
    default:
      throw new Error(`unknown task ${task}`);
  }
}
