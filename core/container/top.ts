// `top`: a running container's processes, read from the host's /proc — the
// processes whose pid namespace is that of the container's pid 1 — rather than
// by running ps inside (the image may have none). Pids, parent pids and users
// are given as the container sees them: the innermost NSpid, and uids mapped
// back through the container's uid_map, named from its /etc/passwd.
import { promises as fs } from 'node:fs';
import { TsboxError } from '../errors.js';

/** USER_HZ: the unit of /proc/PID/stat's times; 100 on every Linux architecture tsbox runs on. */
const CLOCK_TICKS = 100;

export interface ContainerProcess {
  hostPid: number;
  pid: number;
  ppid: number;
  /** uid and gid inside the container (host ids when unmapped) */
  uid: number;
  gid: number;
  hostUid: number;
  user: string;
  group: string;
  hostUser: string;
  /** seconds since the process started */
  elapsed: number;
  /** user + system CPU seconds */
  cpu: number;
  tty: string;
  /** the command line, or `[name]` for a process without one */
  args: string;
  comm: string;
  nice: number;
  /** KiB */
  vsz: number;
  rss: number;
}

interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

function parseIdMap(text: string): IdRange[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every((n) => Number.isFinite(n)))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

function mapBack(id: number, ranges: IdRange[]): number {
  for (const r of ranges) if (id >= r.outside && id < r.outside + r.count) return r.inside + (id - r.outside);
  return id;
}

/** `name:x:id:...` lines of a passwd or group file → id → name. */
function namesFrom(text: string | undefined): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of (text ?? '').split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 3 && /^\d+$/.test(fields[2]!) && !names.has(Number(fields[2]))) names.set(Number(fields[2]), fields[0]!);
  }
  return names;
}

async function readOr(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function nsOf(pid: string | number): Promise<string | undefined> {
  try {
    return await fs.readlink(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

function statusField(status: string, key: string): string[] {
  const line = status.split('\n').find((l) => l.startsWith(`${key}:`));
  return line ? line.slice(key.length + 1).trim().split(/\s+/) : [];
}

/** A tty number of /proc/PID/stat as ps names it: `pts/0`, `tty1`, `?`. */
export function ttyName(ttyNr: number): string {
  if (ttyNr === 0) return '?';
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${minor + (major - 136) * 256}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  return '?';
}

function goneError(pid: number): TsboxError {
  return new TsboxError(`reading the processes of the container (pid ${pid}): it is gone or not ours`);
}

/**
 * The host pids of every process of the container whose pid 1 is host pid
 * `pid`: those whose pid namespace is that of its pid 1 (pid 1 included).
 * Used by `top` and `stats`.
 */
export async function containerPids(pid: number): Promise<number[]> {
  const target = await nsOf(pid);
  if (!target) throw goneError(pid);
  const pids = (await fs.readdir('/proc')).filter((n) => /^\d+$/.test(n));
  const same = await Promise.all(pids.map(async (p) => ((await nsOf(p)) === target ? Number(p) : undefined)));
  return same.filter((p): p is number => p !== undefined);
}

/** The processes of the container whose pid 1 is host pid `pid`, by their pid inside. */
export async function containerProcesses(pid: number): Promise<ContainerProcess[]> {
  const rootStatus = await readOr(`/proc/${pid}/status`);
  if (!rootStatus) throw goneError(pid);
  // the container's namespace is at this depth of every member's NSpid list
  const depth = statusField(rootStatus, 'NSpid').length - 1;
  const [uidMap, gidMap, passwd, group, hostPasswd, uptimeText] = await Promise.all([
    readOr(`/proc/${pid}/uid_map`),
    readOr(`/proc/${pid}/gid_map`),
    readOr(`/proc/${pid}/root/etc/passwd`),
    readOr(`/proc/${pid}/root/etc/group`),
    readOr('/etc/passwd'),
    readOr('/proc/uptime'),
  ]);
  const uids = parseIdMap(uidMap ?? '');
  const gids = parseIdMap(gidMap ?? '');
  const users = namesFrom(passwd);
  const groups = namesFrom(group);
  const hostUsers = namesFrom(hostPasswd);
  const uptime = Number((uptimeText ?? '0').split(' ')[0]);

  const pids = await containerPids(pid);
  const found = await Promise.all(
    pids.map(async (p) => {
      const [stat, status, cmdline] = await Promise.all([readOr(`/proc/${p}/stat`), readOr(`/proc/${p}/status`), readOr(`/proc/${p}/cmdline`)]);
      if (!stat || !status) return undefined; // gone meanwhile
      return { hostPid: Number(p), stat, status, cmdline: cmdline ?? '' };
    }),
  );
  const members = found.filter((m): m is NonNullable<typeof m> => m !== undefined);
  const insidePid = new Map<number, number>();
  for (const m of members) insidePid.set(m.hostPid, Number(statusField(m.status, 'NSpid')[depth] ?? m.hostPid));

  return members
    .map((m): ContainerProcess => {
      const comm = m.stat.slice(m.stat.indexOf('(') + 1, m.stat.lastIndexOf(')'));
      // fields from 3 on, after the command name (which may hold spaces and parentheses)
      const f = m.stat.slice(m.stat.lastIndexOf(')') + 2).split(' ');
      const field = (n: number) => Number(f[n - 3] ?? 0);
      const hostUid = Number(statusField(m.status, 'Uid')[0] ?? 0);
      const hostGid = Number(statusField(m.status, 'Gid')[0] ?? 0);
      const uid = mapBack(hostUid, uids);
      const gid = mapBack(hostGid, gids);
      const args = m.cmdline.replace(/\0+$/, '').split('\0').join(' ');
      return {
        hostPid: m.hostPid,
        pid: insidePid.get(m.hostPid)!,
        ppid: insidePid.get(field(4)) ?? 0,
        uid,
        gid,
        hostUid,
        user: users.get(uid) ?? String(uid),
        group: groups.get(gid) ?? String(gid),
        hostUser: hostUsers.get(hostUid) ?? String(hostUid),
        elapsed: Math.max(0, uptime - field(22) / CLOCK_TICKS),
        cpu: (field(14) + field(15)) / CLOCK_TICKS,
        tty: ttyName(field(7)),
        args: args === '' ? `[${comm}]` : args,
        comm,
        nice: field(19),
        vsz: Math.floor(field(23) / 1024),
        rss: field(24) * 4,
      };
    })
    .sort((a, b) => a.pid - b.pid);
}

/** Go's time.Duration String(): `1h2m3.5s`, `5.12s`, `0s`. */
export function goDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const ms = Math.round(seconds * 1000);
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = ((ms % 60_000) / 1000).toFixed(3).replace(/\.?0+$/, '');
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

/** The ps(1)-style descriptors `top` understands (podman's psgo AIX descriptors), with their headers. */
export const DESCRIPTORS: Record<string, { header: string; value: (p: ContainerProcess) => string }> = {
  user: { header: 'USER', value: (p) => p.user },
  group: { header: 'GROUP', value: (p) => p.group },
  huser: { header: 'HUSER', value: (p) => p.hostUser },
  pid: { header: 'PID', value: (p) => String(p.pid) },
  hpid: { header: 'HPID', value: (p) => String(p.hostPid) },
  ppid: { header: 'PPID', value: (p) => String(p.ppid) },
  pcpu: { header: '%CPU', value: (p) => (p.elapsed > 0 ? (p.cpu / p.elapsed) * 100 : 0).toFixed(3) },
  etime: { header: 'ELAPSED', value: (p) => goDuration(p.elapsed) },
  tty: { header: 'TTY', value: (p) => p.tty },
  time: { header: 'TIME', value: (p) => goDuration(Math.floor(p.cpu)) },
  args: { header: 'COMMAND', value: (p) => p.args },
  comm: { header: 'COMMAND', value: (p) => p.comm },
  nice: { header: 'NI', value: (p) => String(p.nice) },
  vsz: { header: 'VSZ', value: (p) => String(p.vsz) },
  rss: { header: 'RSS', value: (p) => String(p.rss) },
};

export const DEFAULT_DESCRIPTORS = ['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args'];

/** `top` arguments → descriptors: `pid user`, `pid,user`; ps(1) options are refused. */
export function parseDescriptors(args: string[]): string[] {
  const names = args.flatMap((a) => a.split(',')).map((d) => d.trim()).filter((d) => d !== '');
  if (names.length === 0) return DEFAULT_DESCRIPTORS;
  for (const name of names) {
    if (!(name in DESCRIPTORS)) {
      throw new TsboxError(`unknown descriptor: ${name}`, {
        hint: `tsbox reads /proc instead of running ps in the container; use ${Object.keys(DESCRIPTORS).join(', ')}`,
      });
    }
  }
  return names;
}
