import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';
import type { ContainerStats } from '../../core/container/stats.js';

export class StatsCommand extends BaseCommand {
  static override paths = [['stats'], ['container', 'stats']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'display a live stream of container resource usage statistics',
    details: `
      Displays the CPU, memory, network I/O, block I/O and process count of running containers (all of them when none is named), in podman's columns ID, NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET IO, BLOCK IO, PIDS, CPU TIME and AVG CPU %. The first report covers the time since each container started; each later one the interval before it. On a terminal the screen is redrawn every interval (\`--no-reset\` keeps what was printed); when the output is not a terminal one report follows another; \`--no-stream\` prints one and exits. \`-a\` adds the containers that do not run, with zeros; a named container that does not run is an error (podman's \`container state improper\`).

      tsbox makes no cgroup per container, so the numbers are summed from /proc over the processes in the container's pid namespace: CPU time of the living processes and of the children they reaped, memory as their proportional set size (Pss) against the host's memory, network bytes of the container's interfaces but lo. Block I/O comes from /proc/PID/io, which the user can read only for processes that run as the container's root (the user's own uid): with a process under another container user (a subordinate uid) it is shown as \`--\`.

      \`--format\` takes \`json\` or a Go template over ID, Name, CPUPerc, AVGCPU, MemUsage, MemUsageBytes, MemPerc, NetIO, BlockIO, PIDS, UpTime, and the raw ContainerID, CPU, AvgCPU, MemLimit, NetInput, NetOutput, BlockInput, BlockOutput, PIDs; start it with \`table\` for a header row.
    `,
    examples: [
      ['Every running container once', '$0 stats --no-stream'],
      ['One container, every 2 seconds', '$0 stats -i 2 web'],
      ['Names and memory, as JSON', '$0 stats --no-stream --format json'],
      ['A table of chosen columns', '$0 stats --no-stream --format "table {{.ID}} {{.Name}} {{.MemUsage}}" web'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Show all containers. Only running containers are shown by default' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  format = Option.String('--format', { description: 'Pretty-print container statistics to JSON or using a Go template' });
  noReset = Option.Boolean('--no-reset', false, { description: 'Disable resetting the screen between intervals' });
  noStream = Option.Boolean('--no-stream', false, { description: 'Disable streaming stats and only pull the first result' });
  noTrunc = Option.Boolean('--no-trunc', false, { description: 'Do not truncate output' });
  interval = Option.String('-i,--interval', '5', { description: 'Time in seconds between stats reports (default 5)' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { resolveContainer, latestContainer, noSuchContainer } = await import('../../core/container/lookup.js');
    const { loadContainer, loadContainers } = await import('../../core/container/list.js');
    const { readContainerUsage, computeStats, idleStats } = await import('../../core/container/stats.js');
    const { goDuration } = await import('../../core/container/top.js');
    const tools: Tools = { format: await import('../format.js'), goDuration };

    if ([this.all, this.latest, this.containers.length > 0].filter(Boolean).length > 1) {
      throw new TsboxError('--all, --latest and containers cannot be used together');
    }
    if (!/^-?\d+$/.test(this.interval.trim())) {
      throw new TsboxError(`invalid argument ${JSON.stringify(this.interval)} for "-i, --interval" flag: strconv.ParseInt: parsing ${JSON.stringify(this.interval)}: invalid syntax`);
    }
    const interval = Number(this.interval);
    if (interval < 1) throw new TsboxError('invalid interval, must be a positive number greater zero');

    const store = new ContainerStore();
    // named containers are looked up once, as podman does: an unknown one fails before any output
    const named = await Promise.all(this.containers.map((c) => resolveContainer(store, c)));
    const queryAll = named.length === 0 && !this.latest;

    const baselines = new Map<string, { at: number; cpuSeconds: number }>();
    const collect = async (): Promise<ContainerStats[]> => {
      let entries;
      if (queryAll) {
        entries = await loadContainers(store);
      } else {
        const ids = this.latest ? [await latestContainer(store)] : named;
        entries = await Promise.all(
          ids.map(async (id) => {
            const entry = await loadContainer(store, id);
            if (!entry) throw noSuchContainer(id);
            return entry;
          }),
        );
      }
      const stats: ContainerStats[] = [];
      for (const { record, state } of entries) {
        const active = (state.Status === 'running' || state.Status === 'paused') && state.Pid > 0;
        if (!active) {
          // podman 4's wording for a named container that does not run (podman 5 shows zeros instead)
          if (!queryAll) throw new TsboxError('container state improper', { hint: `${record.Name} is ${state.Status}; stats needs a running container` });
          if (this.all) stats.push(idleStats(record.Id, record.Name));
          continue;
        }
        const startedAt = Date.parse(state.StartedAt || record.Created);
        let sample;
        try {
          sample = await readContainerUsage(state.Pid);
        } catch (err) {
          // it exited between the state read and /proc
          if (queryAll) continue;
          throw new TsboxError('container state improper', { hint: `${record.Name} is no longer running`, cause: err });
        }
        const key = `${record.Id}:${state.StartedAt}`;
        stats.push(computeStats(record.Id, record.Name, sample, baselines.get(key) ?? { at: startedAt, cpuSeconds: 0 }, startedAt));
        baselines.set(key, { at: sample.at, cpuSeconds: sample.cpuSeconds });
      }
      return stats;
    };

    const out = this.context.stdout;
    const terminal = (out as NodeJS.WriteStream).isTTY === true;
    const stream = !this.noStream;
    // a reader that goes away (`tsbox stats | head`) ends the stream quietly
    let closed = false;
    let wake = () => {};
    out.on('error', () => {
      closed = true;
      wake();
    });
    for (;;) {
      const report = renderStats(await collect(), this.format, this.noTrunc, tools);
      if (closed) return 0;
      // the redraw of a terminal: no escape codes into a pipe or a file
      out.write(stream && terminal && !this.noReset ? `\x1b[2J\x1b[1;1H${report}` : report);
      if (!stream) return 0;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, interval * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (closed) return 0;
    }
  }
}

/** What the report builders need, loaded once by execute(): the formatter and Go's Duration String() (as `top`'s). */
export interface Tools {
  format: typeof import('../format.js');
  goDuration: (seconds: number) => string;
}

/** podman's percent: two decimals and a sign. */
export function percent(value: number): string {
  return `${(Number.isFinite(value) ? value : 0).toFixed(2)}%`;
}

/** The fields a `--format` template sees, as podman's stats reporter gives them. */
export function statsRow(s: ContainerStats, noTrunc: boolean, { format, goDuration }: Tools): Record<string, unknown> {
  const pair = (a: number | undefined, b: number | undefined, size: (n: number) => string) =>
    a === undefined || b === undefined ? '-- / --' : `${size(a)} / ${size(b)}`;
  return {
    ID: noTrunc ? s.id : s.id.slice(0, 12),
    ContainerID: s.id,
    Name: s.name,
    CPUPerc: percent(s.cpuPercent),
    CPU: s.cpuPercent,
    AVGCPU: percent(s.avgCpuPercent),
    AvgCPU: s.avgCpuPercent,
    UpTime: goDuration(s.cpuSeconds),
    Up: goDuration(s.cpuSeconds),
    MemUsage: pair(s.memUsage, s.memLimit, format.unitsHumanSize),
    MemUsageBytes: pair(s.memUsage, s.memLimit, format.unitsBytesSize),
    MemLimit: s.memLimit,
    MemPerc: percent(s.memPercent),
    NetIO: pair(s.netInput, s.netOutput, format.unitsHumanSize),
    NetInput: s.netInput,
    NetOutput: s.netOutput,
    BlockIO: pair(s.blockInput, s.blockOutput, format.unitsHumanSize),
    BlockInput: s.blockInput ?? 0,
    BlockOutput: s.blockOutput ?? 0,
    PIDS: String(s.pids),
    PIDs: s.pids,
  };
}

/** One report: podman's default table, `--format json` or a template. */
export function renderStats(stats: ContainerStats[], template: string | undefined, noTrunc: boolean, tools: Tools): string {
  const { format } = tools;
  const rows = stats.map((s) => statsRow(s, noTrunc, tools));
  if (template === 'json') {
    const json = rows.map((r) => ({
      id: r.ID,
      name: r.Name,
      cpu_time: r.UpTime,
      cpu_percent: r.CPUPerc,
      avg_cpu: r.AVGCPU,
      mem_usage: r.MemUsage,
      mem_percent: r.MemPerc,
      net_io: r.NetIO,
      block_io: r.BlockIO,
      pids: r.PIDS,
    }));
    // podman indents its stats JSON by one space
    return `${JSON.stringify(json, null, 1)}\n`;
  }
  if (template !== undefined && template !== 'table') return format.formatTemplate(template, rows, HEADERS);
  const columns = ['ID', 'Name', 'CPUPerc', 'MemUsage', 'MemPerc', 'NetIO', 'BlockIO', 'PIDS', 'UpTime', 'AVGCPU'];
  return format.renderTable([columns.map((c) => HEADERS[c]!), ...rows.map((row) => columns.map((c) => String(row[c])))]);
}

/** podman's stats headers (its overrides, upper-cased as its reporter does). */
const HEADERS: Record<string, string> = {
  ID: 'ID',
  ContainerID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  CPU: 'CPU',
  AVGCPU: 'AVG CPU %',
  AvgCPU: 'AVG CPU',
  UpTime: 'CPU TIME',
  Up: 'UP',
  MemUsage: 'MEM USAGE / LIMIT',
  MemUsageBytes: 'MEM USAGE / LIMIT',
  MemLimit: 'MEM LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET IO',
  NetInput: 'NET INPUT',
  NetOutput: 'NET OUTPUT',
  BlockIO: 'BLOCK IO',
  BlockInput: 'BLOCK INPUT',
  BlockOutput: 'BLOCK OUTPUT',
  PIDS: 'PIDS',
  PIDs: 'PIDS',
};
