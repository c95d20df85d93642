// The user's id mapping: uid 0 in the namespace is the user, and 1..N are
// the subordinate ids /etc/subuid and /etc/subgid grant, in file order —
// what podman calls the rootless mapping. Without subordinate ids or the
// setuid newuidmap/newgidmap, only the user's own id can be mapped.
import { accessSync, constants, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

export interface UserMapping {
  uids: IdRange[];
  gids: IdRange[];
  /** true when subordinate ranges are mapped (needs newuidmap/newgidmap) */
  full: boolean;
  /** what is lost with a single-id mapping, and the fix */
  warning?: string;
}

/** A subordinate id range as /etc/subuid writes it: `user:start:count`. */
export interface SubordinateRange {
  start: number;
  count: number;
}

/** The setuid programs that write subordinate ranges into a namespace. */
export interface MappingTools {
  newuidmap: string;
  newgidmap: string;
}

export interface MappingInputs {
  user: { name?: string; uid: number; gid: number };
  /** contents of /etc/subuid and /etc/subgid; undefined when unreadable */
  subuid: string | undefined;
  subgid: string | undefined;
  /** undefined when a tool is missing: its name */
  tools: MappingTools | { missing: string };
  subuidPath?: string;
  subgidPath?: string;
}

/** The kernel accepts at most 340 lines in uid_map; one goes to the user's own id. */
const MAX_SUBORDINATE_RANGES = 339;
const LAST_ID = 0xfffffffe;

/**
 * The ranges granted to a user in /etc/subuid-format text. Lines name the
 * user by name or by uid; comments, blank and malformed lines are skipped
 * (as shadow's own parser does).
 */
export function parseSubordinateIds(contents: string, user: { name?: string; uid: number }): SubordinateRange[] {
  const ranges: SubordinateRange[] = [];
  for (const rawLine of contents.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length !== 3) continue;
    const [owner, startText, countText] = fields as [string, string, string];
    if (owner !== user.name && owner !== String(user.uid)) continue;
    if (!/^\d+$/.test(startText) || !/^\d+$/.test(countText)) continue;
    const start = Number(startText);
    const count = Number(countText);
    if (count === 0 || start + count - 1 > LAST_ID) continue;
    ranges.push({ start, count });
  }
  return ranges;
}

/**
 * Lays the subordinate ranges out inside the namespace: 0 is the user's own
 * id, then each range in order from 1. Parts of a range that repeat an
 * earlier one (a line listed twice) or hold the user's own id are left
 * out, since the kernel refuses a map that names an outside id twice.
 */
export function layOutRanges(ownId: number, subordinate: SubordinateRange[]): IdRange[] {
  const taken: Array<{ start: number; end: number }> = [{ start: ownId, end: ownId + 1 }];
  const out: IdRange[] = [{ inside: 0, outside: ownId, count: 1 }];
  let inside = 1;
  for (const range of subordinate) {
    let pieces = [{ start: range.start, end: range.start + range.count }];
    for (const t of taken) {
      pieces = pieces.flatMap((p) => {
        if (t.end <= p.start || t.start >= p.end) return [p];
        const left = { start: p.start, end: t.start };
        const right = { start: t.end, end: p.end };
        return [left, right].filter((q) => q.end > q.start);
      });
    }
    for (const p of pieces) {
      if (out.length > MAX_SUBORDINATE_RANGES) break;
      out.push({ inside, outside: p.start, count: p.end - p.start });
      inside += p.end - p.start;
      taken.push(p);
    }
  }
  return out;
}

function ownIdOnly(id: number): IdRange[] {
  return [{ inside: 0, outside: id, count: 1 }];
}

/** The mapping for these inputs; pure, so every case can be tested. */
export function buildMapping(inputs: MappingInputs): UserMapping {
  const { user } = inputs;
  const who = user.name ?? `uid ${user.uid}`;
  const example = user.name ?? String(user.uid);
  const lost = 'files owned by other users in images will be owned by root';
  const single = (warning: string): UserMapping => ({
    uids: ownIdOnly(user.uid),
    gids: ownIdOnly(user.gid),
    full: false,
    warning,
  });

  if ('missing' in inputs.tools) {
    return single(`${inputs.tools.missing} not found: ${lost} (install the uidmap package)`);
  }
  const files = [
    { kind: 'uid', path: inputs.subuidPath ?? '/etc/subuid', contents: inputs.subuid, flag: '--add-subuids' },
    { kind: 'gid', path: inputs.subgidPath ?? '/etc/subgid', contents: inputs.subgid, flag: '--add-subgids' },
  ];
  const ranges: SubordinateRange[][] = [];
  for (const file of files) {
    const found = file.contents === undefined ? [] : parseSubordinateIds(file.contents, user);
    if (found.length === 0) {
      const where = file.contents === undefined ? `${file.path} is missing or unreadable` : `no subordinate ${file.kind} range for ${who} in ${file.path}`;
      return single(
        `${where}: ${lost} (add a range, e.g. ${example}:100000:65536, with usermod ${file.flag} 100000-165535 ${example})`,
      );
    }
    ranges.push(found);
  }
  return {
    uids: layOutRanges(user.uid, ranges[0]!),
    gids: layOutRanges(user.gid, ranges[1]!),
    full: true,
  };
}

const SYSTEM_BIN_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/** An executable `name` in $PATH or the usual system directories. */
export function findProgram(name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter).filter((d) => d.startsWith('/')), ...SYSTEM_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/** newuidmap and newgidmap, or the name of the first one missing. */
export function findMappingTools(): MappingTools | { missing: string } {
  const newuidmap = findProgram('newuidmap');
  if (!newuidmap) return { missing: 'newuidmap' };
  const newgidmap = findProgram('newgidmap');
  if (!newgidmap) return { missing: 'newgidmap' };
  return { newuidmap, newgidmap };
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function currentUser(): { name?: string; uid: number; gid: number } {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  try {
    return { name: userInfo().username, uid, gid };
  } catch {
    // no passwd entry (a container with an arbitrary uid): match by uid only
    return { uid, gid };
  }
}

/**
 * This user's mapping, from /etc/subuid, /etc/subgid and the tools installed.
 * $TSBOX_SUBUID_FILE / $TSBOX_SUBGID_FILE name files read instead (tests, and
 * trying a mapping out): newuidmap still checks every range against /etc/subuid.
 */
export function currentMapping(): UserMapping {
  const subuidPath = process.env.TSBOX_SUBUID_FILE || '/etc/subuid';
  const subgidPath = process.env.TSBOX_SUBGID_FILE || '/etc/subgid';
  return buildMapping({
    user: currentUser(),
    subuid: readIfPresent(subuidPath),
    subgid: readIfPresent(subgidPath),
    tools: findMappingTools(),
    subuidPath,
    subgidPath,
  });
}
