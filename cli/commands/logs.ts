import { join } from 'node:path';
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';
import type { LogLine } from '../../core/container/logs.js';

export class LogsCommand extends BaseCommand {
  static override paths = [['logs'], ['container', 'logs']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'fetch the logs of one or more containers',
    details: `
      Prints what a detached container wrote: its stdout lines on stdout, its stderr lines on stderr. A container that ran in the foreground has no log: its output went to the terminal.

      \`--since\` and \`--until\` take an RFC 3339 time (\`2024-05-01T10:00:00Z\`), a Unix timestamp, or a duration such as \`10m\` or \`1h30m\` relative to now (before now for --since, after it for --until, as podman). With more than one CONTAINER, each line starts with the container's short id, or its name with \`--names\`.
    `,
    examples: [
      ['The whole log', '$0 logs web'],
      ['The last 2 lines', '$0 logs --tail 2 web'],
      ['The last ten minutes, then whatever comes until the container exits', '$0 logs --follow --since 10m web'],
      ['Two containers, each line prefixed with the container name', '$0 logs --names web db'],
    ],
  });

  follow = Option.Boolean('-f,--follow', false, { description: 'Follow log output.  The default is false' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  names = Option.Boolean('-n,--names', false, { description: 'Output the container name in the log' });
  since = Option.String('--since', { description: 'Show logs since TIMESTAMP' });
  until = Option.String('--until', { description: 'Show logs until TIMESTAMP' });
  tail = Option.String('--tail', { description: 'Output the specified number of LINES at the end of the logs.  Defaults to -1, which prints all lines' });
  timestamps = Option.Boolean('-t,--timestamps', false, { description: 'Output the timestamps in the log' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    if (this.latest && this.containers.length > 0) throw new TsboxError('--latest and containers cannot be used together');
    if (!this.latest && this.containers.length === 0) throw new TsboxError('specify at least one container name or ID to log');
    let tail: number | undefined;
    if (this.tail !== undefined) {
      if (!/^[+-]?\d+$/.test(this.tail.trim())) {
        throw new TsboxError(`invalid argument ${JSON.stringify(this.tail)} for "--tail" flag: strconv.ParseInt: parsing ${JSON.stringify(this.tail)}: invalid syntax`);
      }
      tail = Number(this.tail);
    }

    const [{ ContainerStore }, { resolveContainer, latestContainer }, { readState, isActive }, logs] = await Promise.all([
      import('../../core/runtime/containers.js'),
      import('../../core/container/lookup.js'),
      import('../../core/container/state.js'),
      import('../../core/container/logs.js'),
    ]);
    const since = this.since === undefined ? undefined : logs.parseTimeOption('--since', this.since);
    const until = this.until === undefined ? undefined : logs.parseTimeOption('--until', this.until);

    const store = new ContainerStore();
    // every name is checked before anything is printed, as podman does
    const ids = this.latest ? [await latestContainer(store)] : [];
    for (const nameOrId of this.containers) ids.push(await resolveContainer(store, nameOrId));

    const { stdout, stderr } = this.context;
    const stop = new AbortController();
    // a reader that went away (`tsbox logs -f c | head`): stop quietly
    const onError = () => stop.abort();
    stdout.on('error', onError);
    stderr.on('error', onError);

    const multi = ids.length > 1;
    const show = async (id: string): Promise<void> => {
      const prefix = !multi ? undefined : this.names ? ((await store.read(id))?.Name ?? id.slice(0, 12)) : id.slice(0, 12);
      const format = { prefix, timestamps: this.timestamps };
      const sink = async (lines: LogLine[]) => {
        for (const { stream, data } of logs.formatLines(lines, format)) {
          if (stop.signal.aborted) return;
          await write(stream === 'stdout' ? stdout : stderr, data, stop.signal);
        }
      };
      const path = join(store.paths(id).userdata, 'ctr.log');
      const options = { tail, since, until, signal: stop.signal };
      if (!this.follow) return logs.readLogs(path, options, sink);
      const isRunning = async () => {
        try {
          return isActive(await readState(store, id));
        } catch {
          return false; // removed meanwhile: nothing more will be written
        }
      };
      return logs.followLogs(path, { ...options, isRunning }, sink);
    };
    try {
      // followed logs are printed as they come; others one container after the other
      if (this.follow) await Promise.all(ids.map(show));
      else for (const id of ids) await show(id);
    } finally {
      stdout.off('error', onError);
      stderr.off('error', onError);
    }
    return 0;
  }
}

type Writable = NodeJS.WritableStream;

/** Writes, waiting for the stream to drain (or for the reader to go away). */
async function write(stream: Writable, data: Buffer, signal: AbortSignal): Promise<void> {
  if (stream.write(data)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.on('drain', done);
    signal.addEventListener('abort', done);
  });
}
