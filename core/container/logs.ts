// Reading a container's log: podman's k8s-file format, one record per line,
//
//   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <text>\n
//
// F ends a line of output, P is a partial line that the stream's next record
// continues. Lines are put back together per stream (a stdout partial is
// continued by stdout's next record, whatever stderr wrote in between) and
// carry the time of the record that ends them, as podman's do.
//
// Everything is Buffers from the file to the sink: the container's bytes
// (UTF-8 or not) come out as they went in. `--tail` reads backwards from the
// end in chunks, so a huge log costs only what is printed; following reads on
// from where the first read stopped, so nothing is lost or read twice, and a
// record a writer has half-written is left for the next read.
import { watch, type FSWatcher, promises as fs } from 'node:fs';
import { TsboxError } from '../errors.js';

export type LogStream = 'stdout' | 'stderr';

/** One record of the file, `text` without the record's newline. */
export interface LogRecord {
  time: string;
  stream: LogStream;
  partial: boolean;
  text: Buffer;
}

/** One line of output, partials joined. */
export interface LogLine {
  /** The timestamp as written in the record that ends the line. */
  time: string;
  stream: LogStream;
  text: Buffer;
  /**
   * false for output that never got its newline: partials left at the end of a
   * log whose writer is gone. It is printed as it is, without a newline.
   */
  complete: boolean;
}

export interface ReadLogsOptions {
  /** The last N lines only; undefined or negative: all. */
  tail?: number;
  /** Lines after this time only (nanoseconds since the epoch), as podman's --since. */
  since?: bigint;
  /** Lines before this time only, as podman's --until. */
  until?: bigint;
  /** Ends reading (and following) early, e.g. when the reader of the output went away. */
  signal?: AbortSignal;
}

export interface FollowLogsOptions extends ReadLogsOptions {
  /** Whether the writer may still append; following ends once it is false and everything is read. */
  isRunning: () => Promise<boolean>;
  /** The longest wait between looks at the file when no change notification came (ms). */
  pollMs?: number;
}

/** Receives lines in file order, a batch at a time; the next read waits for it. */
export type LogSink = (lines: LogLine[]) => void | Promise<void>;

const NEWLINE = 0x0a;
const SPACE = 0x20;
const READ_CHUNK = 256 * 1024;
const TAIL_CHUNK = 64 * 1024;
/** Enough of a record's start to see its flag: a timestamp with an offset is 35 bytes. */
const HEADER_BYTES = 64;

/** Parses one record (without its newline); undefined when it is not one. */
export function parseRecord(line: Buffer): LogRecord | undefined {
  const first = line.indexOf(SPACE);
  if (first <= 0) return undefined;
  const second = line.indexOf(SPACE, first + 1);
  if (second < 0) return undefined;
  const streamName = line.toString('latin1', first + 1, second);
  if (streamName !== 'stdout' && streamName !== 'stderr') return undefined;
  const flag = line[second + 1];
  if (flag !== 0x46 /* F */ && flag !== 0x50 /* P */) return undefined;
  // the text follows the flag's space; a record of an empty line may end at the flag
  if (line.length > second + 2 && line[second + 2] !== SPACE) return undefined;
  return {
    time: line.toString('latin1', 0, first),
    stream: streamName,
    partial: flag === 0x50,
    text: line.subarray(Math.min(line.length, second + 3)),
  };
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp (fraction up to nanoseconds) in nanoseconds since the epoch. */
export function parseTimestamp(text: string): bigint | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  let nanos = BigInt(ms) * 1_000_000n + BigInt((fraction ?? '').padEnd(9, '0') || '0');
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone!.startsWith('-') ? -1n : 1n;
    const offsetMinutes = BigInt(Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
    nanos -= sign * offsetMinutes * 60_000_000_000n;
  }
  return nanos;
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration (`10m`, `1h30m`, `1.5s`, `-2h`) in nanoseconds; undefined when it is not one. */
export function parseGoDuration(text: string): bigint | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') return undefined;
  let total = 0;
  const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const m = part.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return BigInt(Math.round(sign * total));
}

/** Date-only or zone-less forms podman accepts besides RFC 3339 (read as UTC, as Go's time.Parse does). */
const LOOSE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?|(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * A `--since`/`--until` value as podman reads it: an RFC 3339 time (or
 * `2006-01-02T15:04:05`, `2006-01-02`), a Unix timestamp (`1700000000.5`), or
 * a Go duration relative to now, back for --since, ahead for --until (podman's
 * rule: `--until 10m` is ten minutes from now).
 */
export function parseTimeOption(flag: '--since' | '--until', value: string, nowNanos: bigint = BigInt(Date.now()) * 1_000_000n): bigint {
  const exact = parseTimestamp(value);
  if (exact !== undefined) return exact;
  const loose = LOOSE_TIME.exec(value);
  if (loose) {
    const [, y, mo, d, h, mi, s, fraction, zone] = loose;
    const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
    if (!Number.isNaN(ms)) {
      let nanos = BigInt(ms) * 1_000_000n + BigInt((fraction ?? '').padEnd(9, '0') || '0');
      if (zone && zone !== 'Z') {
        const sign = zone.startsWith('-') ? -1n : 1n;
        nanos -= sign * BigInt(Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000_000_000n;
      }
      return nanos;
    }
  }
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) {
    const seconds = Number(value);
    const whole = Math.trunc(seconds);
    return BigInt(whole) * 1_000_000_000n + BigInt(Math.trunc((seconds - whole) * 1e9));
  }
  const duration = parseGoDuration(value);
  if (duration !== undefined) return flag === '--since' ? nowNanos - duration : nowNanos + duration;
  throw new TsboxError(`parsing ${flag} ${JSON.stringify(value)}: unable to interpret time value`, {
    hint: 'give an RFC 3339 time (2024-05-01T10:00:00Z), a Unix timestamp, or a duration such as 10m or 1h30m',
  });
}

/** Joins partial records into lines, per stream. */
export class LineAssembler {
  private readonly pending: Record<LogStream, Buffer[]> = { stdout: [], stderr: [] };
  private readonly pendingTime: Record<LogStream, string> = { stdout: '', stderr: '' };

  /** The line this record ends, if it ends one. */
  push(record: LogRecord): LogLine | undefined {
    const parts = this.pending[record.stream];
    if (record.partial) {
      parts.push(record.text);
      this.pendingTime[record.stream] = record.time;
      return undefined;
    }
    const text = parts.length === 0 ? record.text : Buffer.concat([...parts, record.text]);
    parts.length = 0;
    return { time: record.time, stream: record.stream, text, complete: true };
  }

  /** Output that never got its newline (stdout's first), for the end of a log. */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const parts = this.pending[stream];
      if (parts.length === 0) continue;
      out.push({ time: this.pendingTime[stream], stream, text: Buffer.concat(parts), complete: false });
      parts.length = 0;
    }
    return out;
  }
}

function wanted(line: LogLine, options: ReadLogsOptions): boolean {
  if (options.since === undefined && options.until === undefined) return true;
  // parsed only here: it is most of the cost of reading a log
  const nanos = parseTimestamp(line.time);
  if (nanos === undefined) return false;
  if (options.since !== undefined && !(nanos > options.since)) return false;
  if (options.until !== undefined && !(nanos < options.until)) return false;
  return true;
}

/**
 * Reads records forward from an offset of an open file, a chunk at a time.
 * Only whole records (through their newline) are consumed: a record a writer
 * is still appending stays for the next call.
 */
class ForwardReader {
  offset: number;
  private carry: Buffer = Buffer.alloc(0);
  private readonly buffer = Buffer.allocUnsafe(READ_CHUNK);
  private readonly assembler = new LineAssembler();

  constructor(
    private readonly handle: fs.FileHandle,
    start: number,
    private readonly options: ReadLogsOptions,
    private readonly sink: LogSink,
  ) {
    this.offset = start;
  }

  /** Reads to the current end of the file; resolves to the number of bytes read. */
  async readToEnd(): Promise<number> {
    let total = 0;
    while (!this.options.signal?.aborted) {
      const { bytesRead } = await this.handle.read(this.buffer, 0, this.buffer.length, this.offset + this.carry.length);
      if (bytesRead === 0) return total;
      total += bytesRead;
      // lines and pending partials keep slices of `data`, so it is never the reused read buffer
      const data = Buffer.concat([this.carry, this.buffer.subarray(0, bytesRead)]);
      const lines: LogLine[] = [];
      let start = 0;
      for (let nl = data.indexOf(NEWLINE); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
        const record = parseRecord(data.subarray(start, nl));
        start = nl + 1;
        if (!record) continue; // not a record (a damaged line): skipped, as podman does
        const line = this.assembler.push(record);
        if (line && wanted(line, this.options)) lines.push(line);
      }
      this.offset += start;
      this.carry = data.subarray(start);
      if (lines.length > 0) await this.sink(lines);
    }
    return total;
  }

  /** The end of a log: delivers output that never got its newline. */
  async finish(): Promise<void> {
    const rest = this.assembler.flush().filter((line) => wanted(line, this.options));
    if (rest.length > 0) await this.sink(rest);
  }
}

/** Reads a record's first bytes for its stream and flag (final: F); undefined when it is not a record. */
function recordFlag(header: Buffer): { final: boolean; stream: LogStream } | undefined {
  const first = header.indexOf(SPACE);
  if (first <= 0) return undefined;
  const second = header.indexOf(SPACE, first + 1);
  if (second < 0 || second + 1 >= header.length) return undefined;
  const stream = header.toString('latin1', first + 1, second);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const flag = header[second + 1];
  if (flag === 0x46) return { final: true, stream };
  if (flag === 0x50) return { final: false, stream };
  return undefined;
}

/** Finds newlines backwards through a file, one chunk read per TAIL_CHUNK bytes. */
class BackwardScanner {
  private readonly buffer = Buffer.allocUnsafe(TAIL_CHUNK);
  /** The file's bytes [start, end) are in buffer[0, end - start). */
  private start = 0;
  private end = 0;

  constructor(private readonly handle: fs.FileHandle) {}

  /** The offset of the last newline before `before`, or -1. */
  async previousNewline(before: number): Promise<number> {
    let position = before;
    while (position > 0) {
      if (!(position > this.start && position <= this.end)) {
        this.start = Math.max(0, position - TAIL_CHUNK);
        this.end = position;
        await readFully(this.handle, this.buffer, this.end - this.start, this.start);
      }
      const nl = this.buffer.lastIndexOf(NEWLINE, position - 1 - this.start);
      if (nl >= 0) return this.start + nl;
      position = this.start;
    }
    return -1;
  }

  /** The file's bytes [from, to), from the chunk when it holds them. */
  async bytes(from: number, to: number): Promise<Buffer> {
    if (from >= this.start && to <= this.end) return this.buffer.subarray(from - this.start, to - this.start);
    const out = Buffer.allocUnsafe(to - from);
    await readFully(this.handle, out, to - from, from);
    return out;
  }
}

/**
 * Where the last `count` lines of the file's first `end` bytes (whole
 * records) start, reading backwards a chunk at a time. A line ends at an F
 * record, and a stream's trailing partials (no F after them yet) count as one
 * line, so the offset is the one just after the (count+1)-th line end from the
 * end (0 when there are fewer lines).
 */
export async function tailOffset(handle: fs.FileHandle, end: number, count: number): Promise<number> {
  if (count <= 0 || end === 0) return end;
  const scanner = new BackwardScanner(handle);
  const seen = new Set<LogStream>();
  let lineEnds = 0;
  // each record: [recordStart, recordEnd), recordEnd just past its newline
  let recordEnd = end;
  while (recordEnd > 0) {
    const recordStart = (await scanner.previousNewline(recordEnd - 1)) + 1;
    const flag = recordFlag(await scanner.bytes(recordStart, Math.min(recordEnd, recordStart + HEADER_BYTES)));
    if (flag) {
      const endsLine = flag.final || !seen.has(flag.stream);
      seen.add(flag.stream);
      if (endsLine && ++lineEnds === count + 1) return recordEnd;
    }
    recordEnd = recordStart;
  }
  return 0;
}

async function readFully(handle: fs.FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new TsboxError('the log file shrank while it was read');
    done += bytesRead;
  }
}

/** The offset just past the last newline in the file's first `size` bytes: where whole records end. */
async function wholeRecordsEnd(handle: fs.FileHandle, size: number): Promise<number> {
  return (await new BackwardScanner(handle).previousNewline(size)) + 1;
}

async function openLog(path: string): Promise<fs.FileHandle | undefined> {
  try {
    return await fs.open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function startOffset(handle: fs.FileHandle, tail: number | undefined): Promise<number> {
  if (tail === undefined || tail < 0) return 0;
  const { size } = await handle.stat();
  return tailOffset(handle, await wholeRecordsEnd(handle, size), tail);
}

/**
 * Delivers the log's lines as the file is now. A missing file is an empty
 * log (a container that ran in the foreground has none).
 */
export async function readLogs(path: string, options: ReadLogsOptions, sink: LogSink): Promise<void> {
  const handle = await openLog(path);
  if (!handle) return;
  try {
    const reader = new ForwardReader(handle, await startOffset(handle, options.tail), options, sink);
    await reader.readToEnd();
    await reader.finish();
  } finally {
    await handle.close();
  }
}

/**
 * Delivers the log's lines, then the lines appended to it, until the writer
 * has stopped (`isRunning()` false) and everything it wrote is read, or
 * `--until` has passed, or `signal` aborts. A change notification (fs.watch)
 * wakes it at once; a poll every `pollMs` covers filesystems without one.
 */
export async function followLogs(path: string, options: FollowLogsOptions, sink: LogSink): Promise<void> {
  const pollMs = options.pollMs ?? 250;
  const waiter = new ChangeWaiter(pollMs, options.signal);
  try {
    // no log yet: it may be about to be made; there is none to wait for once the writer is gone
    let handle: fs.FileHandle | undefined;
    for (;;) {
      const running = await options.isRunning(); // asked before looking, so a log made meanwhile is seen
      handle = await openLog(path);
      if (handle) break;
      if (!running || stopped(options)) return;
      await waiter.wait();
    }
    try {
      waiter.watch(path);
      const reader = new ForwardReader(handle, await startOffset(handle, options.tail), options, sink);
      for (;;) {
        const read = await reader.readToEnd();
        if (read > 0) continue;
        if (stopped(options)) break;
        // asked after a read found the end; a writer found gone by then has written all it will: one last read
        const running = await options.isRunning();
        if (!running) {
          await reader.readToEnd();
          break;
        }
        await waiter.wait();
      }
      await reader.finish();
    } finally {
      await handle.close();
    }
  } finally {
    waiter.close();
  }
}

function stopped(options: FollowLogsOptions): boolean {
  if (options.signal?.aborted) return true;
  return options.until !== undefined && BigInt(Date.now()) * 1_000_000n >= options.until;
}

/** Waits for a change notification on a file, at most `pollMs`; a notification between waits is kept. */
class ChangeWaiter {
  private watcher: FSWatcher | undefined;
  private changed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly pollMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', () => this.notify(), { once: true });
  }

  watch(path: string): void {
    try {
      this.watcher = watch(path, { persistent: false }, () => this.notify());
      this.watcher.on('error', () => this.closeWatcher()); // the poll carries on alone
    } catch {
      // no inotify here (or out of watches): the poll alone
    }
  }

  private notify(): void {
    this.changed = true;
    this.wake?.();
  }

  async wait(): Promise<void> {
    if (this.changed || this.signal?.aborted) {
      this.changed = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.pollMs);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
    this.changed = false;
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  close(): void {
    this.closeWatcher();
    this.wake?.();
  }
}

const NEWLINE_BUFFER = Buffer.from('\n');

/**
 * Lines as `tsbox logs` prints them, `[<prefix> ][<timestamp> ]<text>` and a
 * newline (none for output that never had one), consecutive lines of a stream
 * in one Buffer, for as few writes as there are stream changes.
 */
export function formatLines(lines: LogLine[], options: { prefix?: string; timestamps?: boolean } = {}): { stream: LogStream; data: Buffer }[] {
  const prefix = options.prefix ? Buffer.from(`${options.prefix} `) : undefined;
  const out: { stream: LogStream; data: Buffer }[] = [];
  let i = 0;
  while (i < lines.length) {
    const stream = lines[i]!.stream;
    const parts: Buffer[] = [];
    for (; i < lines.length && lines[i]!.stream === stream; i++) {
      const line = lines[i]!;
      if (prefix) parts.push(prefix);
      if (options.timestamps) parts.push(Buffer.from(`${line.time} `));
      parts.push(line.text);
      if (line.complete) parts.push(NEWLINE_BUFFER);
    }
    out.push({ stream, data: Buffer.concat(parts) });
  }
  return out;
}
