// `system migrate`: the store records the id mapping its files were made
// with (storage.json); after /etc/subuid or /etc/subgid changed, tsbox
// refuses the store until this has run. Three cases:
//   - every recorded range is still mapped to the same inside ids: nothing
//     moves, the new mapping is recorded;
//   - the old ranges are still granted but laid out differently (a range
//     moved, one added before it): every file is re-owned, in a namespace of
//     the new mapping (which then holds the old host ids too), from its old
//     inside id's host id to the same inside id's new host id;
//   - an old range is no longer granted: the user cannot touch those files.
//     Nothing is changed; the error says how to grant the range back for the
//     migration, or to reset.
import { promises as fs } from 'node:fs';
import { TsboxError } from '../errors.js';
import { loadContainers } from '../container/list.js';
import { isActive } from '../container/state.js';
import type { ContainerStore } from '../runtime/containers.js';
import { STORE_VERSION, openStore, writeFileAtomic, type StoreMapping } from '../store/index.js';
import type { UserMapping } from '../userns/mapping.js';
import type { ReownResult, Segment } from './ns-task.js';

type Ranges = StoreMapping['uids'];

/** A run of host ids, first..last inclusive. */
export interface HostInterval {
  first: number;
  last: number;
}

export type MigrationPlan =
  | { kind: 'current' }
  | { kind: 'rerecord' }
  | { kind: 'reown'; uids: Segment[]; gids: Segment[] }
  | { kind: 'blocked'; missing: { uids: HostInterval[]; gids: HostInterval[] }; short: { uids: number; gids: number } };

function sameRanges(a: Ranges, b: Ranges): boolean {
  return a.length === b.length && a.every((r, i) => r.inside === b[i]!.inside && r.outside === b[i]!.outside && r.count === b[i]!.count);
}

/** Whether every inside id of `recorded` maps to the same host id in `current`. */
function mappedTheSame(recorded: Ranges, current: Ranges): boolean {
  return recorded.every((r) => {
    let covered = 0;
    for (const c of current) {
      const lo = Math.max(r.inside, c.inside);
      const hi = Math.min(r.inside + r.count, c.inside + c.count);
      if (lo >= hi) continue;
      if (c.outside - c.inside !== r.outside - r.inside) return false;
      covered += hi - lo;
    }
    return covered === r.count;
  });
}

/** The host ids of `recorded` that no range of `current` maps, merged into intervals. */
function missingHostIds(recorded: Ranges, current: Ranges): HostInterval[] {
  let pieces = recorded.map((r) => ({ first: r.outside, last: r.outside + r.count - 1 }));
  for (const c of current) {
    const cFirst = c.outside;
    const cLast = c.outside + c.count - 1;
    pieces = pieces.flatMap((p) => {
      if (cLast < p.first || cFirst > p.last) return [p];
      return [
        { first: p.first, last: cFirst - 1 },
        { first: cLast + 1, last: p.last },
      ].filter((q) => q.first <= q.last);
    });
  }
  pieces.sort((a, b) => a.first - b.first);
  const merged: HostInterval[] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (last && p.first <= last.last + 1) last.last = Math.max(last.last, p.last);
    else merged.push({ ...p });
  }
  return merged;
}

/** How many of the recorded inside ids the current mapping lacks (it grants fewer ids). */
function insideShortfall(recorded: Ranges, current: Ranges): number {
  const end = (ranges: Ranges) => Math.max(0, ...ranges.map((r) => r.inside + r.count));
  return Math.max(0, end(recorded) - end(current));
}

/**
 * The re-owning, in ids of a namespace with the current mapping: a file
 * whose owner there is `from+k` (the host id of recorded inside id `to+k`)
 * becomes `to+k`, which the current mapping puts at its new host id.
 */
export function reownSegments(recorded: Ranges, current: Ranges): Segment[] {
  const segments: Segment[] = [];
  for (const c of current) {
    for (const r of recorded) {
      const lo = Math.max(c.outside, r.outside);
      const hi = Math.min(c.outside + c.count, r.outside + r.count);
      if (lo >= hi) continue;
      const from = c.inside + (lo - c.outside);
      const to = r.inside + (lo - r.outside);
      if (from !== to) segments.push({ from, to, count: hi - lo });
    }
  }
  return segments.sort((a, b) => a.from - b.from);
}

/** What migrating from `recorded` to `current` takes; pure. */
export function planMigration(recorded: StoreMapping, current: StoreMapping): MigrationPlan {
  if (sameRanges(recorded.uids, current.uids) && sameRanges(recorded.gids, current.gids)) return { kind: 'current' };
  if (mappedTheSame(recorded.uids, current.uids) && mappedTheSame(recorded.gids, current.gids)) return { kind: 'rerecord' };
  const missing = { uids: missingHostIds(recorded.uids, current.uids), gids: missingHostIds(recorded.gids, current.gids) };
  const short = { uids: insideShortfall(recorded.uids, current.uids), gids: insideShortfall(recorded.gids, current.gids) };
  if (missing.uids.length + missing.gids.length > 0 || short.uids + short.gids > 0) return { kind: 'blocked', missing, short };
  return { kind: 'reown', uids: reownSegments(recorded.uids, current.uids), gids: reownSegments(recorded.gids, current.gids) };
}

export function describeRanges(m: StoreMapping): string {
  const ranges = (r: Ranges) => r.map((x) => `${x.inside}:${x.outside}:${x.count}`).join(',');
  return `uids ${ranges(m.uids)} gids ${ranges(m.gids)}`;
}

const intervals = (list: HostInterval[]) => list.map((i) => (i.first === i.last ? `${i.first}` : `${i.first}-${i.last}`)).join(',');

/** The one-line error and fix for a blocked migration. */
export function blockedError(plan: Extract<MigrationPlan, { kind: 'blocked' }>, user: string, files: { subuid: string; subgid: string }): TsboxError {
  const { missing, short } = plan;
  if (missing.uids.length + missing.gids.length === 0) {
    return new TsboxError(
      `the new subordinate id ranges grant ${Math.max(short.uids, short.gids)} ids fewer than the store's files use: nothing was changed`,
      { hint: `grant ${user} at least as many ids in ${files.subuid} and ${files.subgid} and run tsbox system migrate again, or remove everything with tsbox system reset` },
    );
  }
  const what = [missing.uids.length ? `uids ${intervals(missing.uids)}` : '', missing.gids.length ? `gids ${intervals(missing.gids)}` : ''].filter(Boolean).join(' and ');
  const add = [
    ...missing.uids.map((i) => `--add-subuids ${i.first}-${i.last}`),
    ...missing.gids.map((i) => `--add-subgids ${i.first}-${i.last}`),
  ].join(' ');
  const del = add.replace(/--add-/g, '--del-');
  return new TsboxError(`the store's files belong to ${what}, which are no longer granted to ${user}: only root can re-own them, nothing was changed`, {
    hint: `grant them back for the migration with \`sudo usermod ${add} ${user}\`, run \`tsbox system migrate\`, then \`sudo usermod ${del} ${user}\` and \`tsbox system migrate\` once more; or remove everything with \`tsbox system reset\``,
  });
}

export type MigrateOutcome =
  | { kind: 'no-store' | 'current' | 'rerecord'; mapping: StoreMapping }
  | { kind: 'reown'; mapping: StoreMapping; from: StoreMapping; result: ReownResult };

/**
 * Brings the store to the current mapping (see the top of this file).
 * Re-owning is refused while a container runs (its files are in use under
 * the old ids); re-recording changes no file and is not.
 */
export async function systemMigrate(containers: ContainerStore, current: UserMapping, options: { root?: string; user: string }): Promise<MigrateOutcome> {
  const store = await openStore({ ...(options.root ? { root: options.root } : {}) });
  const now: StoreMapping = { uids: current.uids, gids: current.gids };
  let recorded: StoreMapping;
  try {
    recorded = (JSON.parse(await fs.readFile(store.layout.storageFile, 'utf8')) as { mapping: StoreMapping }).mapping;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'no-store', mapping: now };
    throw err;
  }
  const plan = planMigration(recorded, now);
  if (plan.kind === 'current') return { kind: 'current', mapping: now };

  if (plan.kind === 'blocked') {
    throw blockedError(plan, options.user, {
      subuid: process.env.TSBOX_SUBUID_FILE || '/etc/subuid',
      subgid: process.env.TSBOX_SUBGID_FILE || '/etc/subgid',
    });
  }
  if (plan.kind === 'reown') {
    // a running container has the old owners mapped in; re-owning under it would change its files' owners
    const running = (await loadContainers(containers)).find((e) => isActive(e.state));
    if (running) {
      throw new TsboxError(`container ${running.record.Name} is running: containers must be stopped before the store's files are re-owned`, {
        hint: 'stop them with tsbox stop -a, then run tsbox system migrate again',
      });
    }
  }
  const record = `${JSON.stringify({ version: STORE_VERSION, mapping: now }, null, 2)}\n`;
  return store.withStoreLock(async () => {
    if (plan.kind === 'rerecord') {
      await writeFileAtomic(store.layout.storageFile, record, 0o600);
      return { kind: 'rerecord', mapping: now };
    }
    const { runNamespaceTask } = await import('./ns-run.js');
    const result = (await runNamespaceTask('reown', [JSON.stringify({ root: store.root, uids: plan.uids, gids: plan.gids })], {
      mapping: current,
      timeoutMs: 60 * 60_000,
    })) as ReownResult;
    // recorded only once every file is re-owned. Not resumable: a migration killed midway leaves some files
    // re-owned and some not (the store still refuses to open; tsbox system reset recovers).
    await writeFileAtomic(store.layout.storageFile, record, 0o600);
    return { kind: 'reown', mapping: now, from: recorded, result };
  });
}
