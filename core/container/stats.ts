// `stats`: a running container's resource usage. podman reads the
// container's cgroup; tsbox makes no per-container cgroups (and on a hybrid
// host like ours, memory, cpu and pids are cgroup v1 controllers a rootless
// user cannot delegate), so the counters are summed from the host's /proc
// over the container's processes — every process in its pid namespace, as
// `top` finds them (containerPids). What that means for each column:
//
// - CPU: utime + stime + cutime + cstime of /proc/PID/stat: the living
//   processes plus the children they reaped, which inside a container is
//   everything that ran there (its pid 1 reaps orphans). Ticks: 10 ms.
// - memory: the sum of Pss (/proc/PID/smaps_rollup), so pages shared between
//   the container's processes count once; RSS where smaps_rollup is missing.
//   The limit is the host's MemTotal, as podman shows without a memory limit.
// - PIDS: the number of those processes.
// - NET IO: /proc/PID/net/dev of the container's pid 1 (its network
//   namespace), every interface but lo; 0 with --network host, as podman.
// - BLOCK IO: read_bytes and write_bytes of /proc/PID/io. That file is mode
//   0400, owned by the process's uid: the container's root is the user's own
//   uid on the host (as in podman's mapping), so its processes' files are
//   readable, but a process running as any other container user has a
//   subordinate uid, and the user who owns the container's user namespace
//   still cannot open its io file (EACCES; stat and smaps_rollup are 0444).
//   When any process's file is unreadable, block IO is unavailable and shown
//   as `--`, as podman shows values it cannot get. As for CPU, the kernel
//   adds a reaped child's IO to its parent's file.
//
// readContainerUsage() is the one place that reads them: where tsbox gets
// per-container cgroups (a pure cgroup v2 host with delegation), a cgroup
// reader (cpu.stat usage_usec, memory.current, pids.current, io.stat)
// replaces it there and nothing else changes.
import { promises as fs } from 'node:fs';
import { containerPids } from './top.js';

/** USER_HZ: the unit of /proc/PID/stat's times; 100 on every Linux architecture tsbox runs on. */
const CLOCK_TICKS = 100;
const PAGE_SIZE = 4096;

/** Raw counters of one container at one moment. */
export interface UsageSample {
  /** when it was taken, ms since the epoch */
  at: number;
  /** CPU seconds used so far by the container's processes (living and reaped) */
  cpuSeconds: number;
  memoryBytes: number;
  memoryLimit: number;
  pids: number;
  /** bytes received and sent on the container's interfaces */
  netInput: number;
  netOutput: number;
  /** bytes read from and written to storage; undefined when unreadable */
  blockInput?: number;
  blockOutput?: number;
}

/** A container's stats as podman computes them from two samples. */
export interface ContainerStats {
  id: string;
  name: string;
  /** percent of one CPU since the previous sample (since start for the first) */
  cpuPercent: number;
  /** percent of one CPU since the container started */
  avgCpuPercent: number;
  cpuSeconds: number;
  memUsage: number;
  memLimit: number;
  memPercent: number;
  netInput: number;
  netOutput: number;
  blockInput?: number;
  blockOutput?: number;
  pids: number;
}

async function readOr(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The fields of /proc/PID/stat from field 3 on (after the command, which may hold spaces and parentheses). */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
}

/** utime + stime + cutime + cstime of /proc/PID/stat, in clock ticks. */
export function parseStatCpuTicks(stat: string): number {
  const f = statFields(stat);
  // fields 14..17, at index 11..14 counting from field 3
  return [11, 12, 13, 14].reduce((sum, i) => sum + (Number(f[i]) || 0), 0);
}

/** RSS of /proc/PID/stat (field 24) in bytes. */
export function parseStatRss(stat: string): number {
  return (Number(statFields(stat)[21]) || 0) * PAGE_SIZE;
}

/** A `Key: N kB` line of a /proc file (smaps_rollup, meminfo) in bytes; undefined when absent. */
export function parseKbField(text: string, key: string): number | undefined {
  const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm'));
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Received and sent bytes of /proc/PID/net/dev, every interface but lo. */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo' || name.includes('|')) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 9) continue;
    rx += f[0]!;
    tx += f[8]!;
  }
  return { rx, tx };
}

/** read_bytes and write_bytes of /proc/PID/io. */
export function parseIo(text: string): { read: number; write: number } {
  const field = (key: string) => Number(text.match(new RegExp(`^${key}:\\s+(\\d+)$`, 'm'))?.[1] ?? 0);
  return { read: field('read_bytes'), write: field('write_bytes') };
}

/**
 * The counters of the container whose pid 1 is host pid `pid`, read from
 * /proc (see the top of this file); throws as containerPids when it is gone.
 */
export async function readContainerUsage(pid: number): Promise<UsageSample> {
  const pids = await containerPids(pid);
  const [meminfo, netDev, netNs, ownNetNs] = await Promise.all([
    readOr('/proc/meminfo'),
    readOr(`/proc/${pid}/net/dev`),
    fs.readlink(`/proc/${pid}/ns/net`).catch(() => undefined),
    fs.readlink('/proc/self/ns/net').catch(() => undefined),
  ]);
  const perProcess = await Promise.all(
    pids.map(async (p) => {
      const [stat, rollup, io] = await Promise.all([readOr(`/proc/${p}/stat`), readOr(`/proc/${p}/smaps_rollup`), readOr(`/proc/${p}/io`)]);
      if (stat === undefined) return undefined; // gone meanwhile
      return {
        ticks: parseStatCpuTicks(stat),
        memory: (rollup !== undefined ? parseKbField(rollup, 'Pss') : undefined) ?? parseStatRss(stat),
        io: io !== undefined ? parseIo(io) : undefined,
      };
    }),
  );
  const alive = perProcess.filter((p): p is NonNullable<typeof p> => p !== undefined);
  // the host's own network namespace (--network host): podman reports no network IO
  const net = netDev !== undefined && netNs !== undefined && netNs !== ownNetNs ? parseNetDev(netDev) : { rx: 0, tx: 0 };
  const ioReadable = alive.length > 0 && alive.every((p) => p.io !== undefined);
  return {
    at: Date.now(),
    cpuSeconds: alive.reduce((sum, p) => sum + p.ticks, 0) / CLOCK_TICKS,
    memoryBytes: alive.reduce((sum, p) => sum + p.memory, 0),
    memoryLimit: parseKbField(meminfo ?? '', 'MemTotal') ?? 0,
    pids: alive.length,
    netInput: net.rx,
    netOutput: net.tx,
    ...(ioReadable
      ? { blockInput: alive.reduce((sum, p) => sum + p.io!.read, 0), blockOutput: alive.reduce((sum, p) => sum + p.io!.write, 0) }
      : {}),
  };
}

/** Where the previous sample left off: the container's start for the first one (podman's rule). */
export interface Baseline {
  at: number;
  cpuSeconds: number;
}

/**
 * podman's stats from a sample: CPU % over the time since `previous` (not
 * divided by the number of CPUs: a busy loop is 100%), the average since
 * `startedAt`, memory as a share of the limit.
 */
export function computeStats(id: string, name: string, sample: UsageSample, previous: Baseline, startedAt: number): ContainerStats {
  const percent = (cpu: number, ms: number) => (ms > 0 && cpu > 0 ? (cpu / (ms / 1000)) * 100 : 0);
  // a restarted container starts counting again from zero
  const since = previous.cpuSeconds > sample.cpuSeconds ? { at: startedAt, cpuSeconds: 0 } : previous;
  return {
    id,
    name,
    cpuPercent: percent(sample.cpuSeconds - since.cpuSeconds, sample.at - since.at),
    avgCpuPercent: percent(sample.cpuSeconds, sample.at - startedAt),
    cpuSeconds: sample.cpuSeconds,
    memUsage: sample.memoryBytes,
    memLimit: sample.memoryLimit,
    memPercent: sample.memoryLimit > 0 ? (sample.memoryBytes / sample.memoryLimit) * 100 : 0,
    netInput: sample.netInput,
    netOutput: sample.netOutput,
    ...(sample.blockInput !== undefined ? { blockInput: sample.blockInput, blockOutput: sample.blockOutput } : {}),
    pids: sample.pids,
  };
}

/** The stats of a container that is not running (`stats -a`): zeros, as podman 5 shows them. */
export function idleStats(id: string, name: string): ContainerStats {
  return { id, name, cpuPercent: 0, avgCpuPercent: 0, cpuSeconds: 0, memUsage: 0, memLimit: 0, memPercent: 0, netInput: 0, netOutput: 0, blockInput: 0, blockOutput: 0, pids: 0 };
}
