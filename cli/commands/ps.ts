import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';
import type { ContainerEntry } from '../../core/container/list.js';
import type { PortMapping } from '../../core/network/publish.js';

export class PsCommand extends BaseCommand {
  static override paths = [['ps'], ['container', 'ls'], ['container', 'list'], ['container', 'ps']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'list containers',
    details: `
      Lists the running (and paused or stopping) containers, newest first, in podman's table; \`-a\` lists all of them. A container whose monitor has died shows as exited.

      \`--filter\` takes \`name=REGEX\`, \`id=PREFIX\`, \`status=created|running|paused|stopping|exited\`, \`ancestor=IMAGE\` (an image id prefix or a regular expression over the image's name), \`label=KEY[=VALUE]\` and \`exited=CODE\`; the same key given twice matches either value, different keys must all match. A status filter implies \`-a\`.

      \`--format\` takes \`json\` or a Go template over ID, Image, ImageID, Command, CreatedHuman, CreatedAt, RunningFor, Created, Status, State, Ports, Names, Labels, Mounts, Pid, ExitCode, Exited, ExitedAt, StartedAt, AutoRemove and Restarts; start it with \`table\` for a header row.
    `,
    examples: [
      ['List running containers', '$0 ps'],
      ['All containers, ids only', '$0 ps -aq'],
      ['Exited containers of one image', '$0 ps --filter status=exited --filter ancestor=alpine'],
      ['Names only', "$0 ps --format '{{.Names}}'"],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Show all the containers, default is only running containers' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Print the numeric IDs of the containers only' });
  last = Option.String('-n,--last', { description: 'Print the n last created containers (all states)' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  filters = Option.Array('-f,--filter', [], { description: 'Filter output based on conditions given' });
  format = Option.String('--format', { description: "Pretty-print containers to JSON or using a Go template" });
  noTrunc = Option.Boolean('--no-trunc', false, { description: 'Display the extended information' });
  noHeading = Option.Boolean('--noheading', false, { description: 'Do not print headers' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { loadContainers, parseFilters, containerFilter, containerPorts, userMounts, containerLabels } = await import('../../core/container/list.js');
    const { describeMapping } = await import('../../core/network/publish.js');
    const format = await import('../format.js');
    const store = new ContainerStore();
    const tools: Tools = {
      format,
      ports: containerPorts,
      describeMapping,
      mounts: (e) => userMounts(store, e.record).map((m) => m.destination),
      labels: (e) => containerLabels(e.record),
    };

    let last = 0;
    if (this.last !== undefined) {
      if (!/^-?\d+$/.test(this.last)) throw new TsboxError(`invalid argument ${JSON.stringify(this.last)} for "-n, --last" flag: strconv.ParseInt: parsing ${JSON.stringify(this.last)}: invalid syntax`);
      last = Number(this.last);
    }
    if (this.latest) last = 1;
    const filters = parseFilters(this.filters);
    const match = containerFilter(filters);
    // podman (as docker): a status filter, -n and -l look at every container
    const all = this.all || filters.has('status') || last > 0;

    const active = (state: { Status: string }) => ['running', 'paused', 'stopping'].includes(state.Status);
    let entries = (await loadContainers(store, all ? {} : { where: active })).filter(match);
    if (last > 0) entries = entries.slice(0, last);

    const out = this.context.stdout;
    if (this.format === 'json') {
      out.write(format.formatJson(entries.map((e) => psJson(e, tools))));
      return 0;
    }
    if (this.quiet) {
      out.write(entries.map((e) => `${this.noTrunc ? e.record.Id : e.record.Id.slice(0, 12)}\n`).join(''));
      return 0;
    }
    const rows = entries.map((e) => psRow(e, this.noTrunc, tools));
    if (this.format !== undefined) {
      const template = this.noHeading ? this.format.replace(/^table\s+/, '') : this.format;
      out.write(format.formatTemplate(template, rows, HEADERS));
      return 0;
    }
    const columns = ['ID', 'Image', 'Command', 'CreatedHuman', 'Status', 'Ports', 'Names'] as const;
    const table = rows.map((row) => columns.map((c) => String(row[c])));
    out.write(format.renderTable(this.noHeading ? table : [columns.map((c) => HEADERS[c]!), ...table]));
    return 0;
  }
}

type Format = typeof import('../format.js');

/** What the row builders need: the formatter and the container module, loaded once by execute(). */
interface Tools {
  format: Format;
  ports: (entry: ContainerEntry) => PortMapping[];
  describeMapping: (m: PortMapping) => string;
  mounts: (entry: ContainerEntry) => string[];
  labels: (entry: ContainerEntry) => Record<string, string>;
}

/** Go's zero time.Time as a unix time: what podman reports for "never". */
const ZERO_UNIX = -62135596800;

function unix(iso: string): number {
  const ms = Date.parse(iso);
  return iso === '' || Number.isNaN(ms) ? ZERO_UNIX : Math.floor(ms / 1000);
}

/** podman's STATUS column: `Up 5 seconds`, `Exited (0) 3 seconds ago`, `Created`. */
export function humanStatus(entry: ContainerEntry, format: Format, now = Date.now()): string {
  const s = entry.state;
  switch (s.Status) {
    case 'running':
      return `Up ${format.humanDuration(Math.max(0, now - Date.parse(s.StartedAt || entry.record.Created)))}`;
    case 'exited':
      return `Exited (${s.ExitCode}) ${format.timeAgo(new Date(s.FinishedAt || entry.record.Created), now)}`;
    default:
      return s.Status.charAt(0).toUpperCase() + s.Status.slice(1);
  }
}


/** One container as podman's `ps --format json` prints it. */
function psJson(entry: ContainerEntry, { format, ports, mounts, labels }: Tools): Record<string, unknown> {
  const { record, state } = entry;
  const created = new Date(record.Created);
  return {
    AutoRemove: record.Run?.Remove ?? false,
    Command: record.Spec?.process.args ?? [],
    Created: unix(record.Created),
    CreatedAt: format.timeAgo(created),
    Exited: state.Status === 'exited',
    ExitedAt: state.Status === 'exited' ? unix(state.FinishedAt) : ZERO_UNIX,
    ExitCode: state.ExitCode,
    Id: record.Id,
    Image: record.ImageName,
    ImageID: record.Image,
    IsInfra: false,
    Labels: Object.keys(labels(entry)).length > 0 ? labels(entry) : null,
    Mounts: mounts(entry),
    Names: [record.Name],
    Namespaces: {},
    Networks: [],
    Pid: state.Pid,
    Pod: '',
    PodName: '',
    Ports: ports(entry).map((m) => ({ host_ip: m.hostIp, container_port: m.containerPort, host_port: m.hostPort, range: m.range, protocol: m.protocol })),
    Restarts: state.RestartCount,
    Size: null,
    StartedAt: unix(state.StartedAt),
    State: state.Status,
    Status: '',
  };
}

/** The fields a `--format` template sees, as podman's ps reporter gives them. */
function psRow(entry: ContainerEntry, noTrunc: boolean, { format, ports, mounts, labels, describeMapping }: Tools) {
  const { record, state } = entry;
  const command = (record.Spec?.process.args ?? []).join(' ');
  const created = new Date(record.Created);
  const status = humanStatus(entry, format);
  return {
    ID: noTrunc ? record.Id : record.Id.slice(0, 12),
    Image: record.ImageName,
    ImageID: noTrunc ? record.Image : record.Image.slice(0, 12),
    Command: !noTrunc && command.length > 17 ? `${command.slice(0, 17)}...` : command,
    CreatedHuman: format.timeAgo(created),
    RunningFor: format.timeAgo(created),
    CreatedAt: format.goTimeString(created),
    Created: unix(record.Created),
    Status: status,
    State: status,
    Ports: ports(entry).map(describeMapping).join(', '),
    Names: record.Name,
    Labels: labels(entry),
    Mounts: mounts(entry).join(','),
    Pid: state.Pid,
    ExitCode: state.ExitCode,
    Exited: state.Status === 'exited',
    ExitedAt: state.Status === 'exited' ? unix(state.FinishedAt) : ZERO_UNIX,
    StartedAt: unix(state.StartedAt),
    AutoRemove: record.Run?.Remove ?? false,
    Restarts: state.RestartCount,
    IsInfra: false,
    Pod: '',
    PodName: '',
    Networks: '',
    Namespaces: {},
  };
}

const HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  ImageID: 'IMAGE ID',
  Command: 'COMMAND',
  CreatedHuman: 'CREATED',
  RunningFor: 'CREATED',
  CreatedAt: 'CREATED AT',
  Created: 'CREATED',
  Status: 'STATUS',
  State: 'STATE',
  Ports: 'PORTS',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Pid: 'PID',
  ExitCode: 'EXIT CODE',
  Exited: 'EXITED',
  ExitedAt: 'EXITED AT',
  StartedAt: 'STARTED AT',
  AutoRemove: 'AUTO REMOVE',
  Restarts: 'RESTARTS',
};
