// Reading k8s-file logs: records to lines (partials joined per stream),
// stdout/stderr kept apart, bytes intact, --tail read from the end, --since
// and --until, -t, and following a file a writer appends to in pieces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  followLogs,
  formatLines,
  parseGoDuration,
  parseRecord,
  parseTimeOption,
  parseTimestamp,
  readLogs,
  tailOffset,
  type LogLine,
} from '../../core/container/logs.js';
import { withTimeout } from '../lib/timeout.js';

let dir: string;
let path: string;
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-logs-'));
  path = join(dir, 'ctr.log');
});
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A timestamp n ms (and n ns) after a fixed time, as the monitor writes them. */
function ts(n: number): string {
  const date = new Date(Date.UTC(2024, 4, 1, 10, 0, 0) + n);
  return `${date.toISOString().slice(0, 23)}000${String(n % 1000).padStart(3, '0')}Z`;
}

function record(n: number, stream: 'stdout' | 'stderr', flag: 'F' | 'P', text: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${ts(n)} ${stream} ${flag} `), Buffer.from(text), Buffer.from('\n')]);
}

async function collect(options: Parameters<typeof readLogs>[1] = {}): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  await readLogs(path, options, (batch) => {
    lines.push(...batch);
  });
  return lines;
}

const texts = (lines: LogLine[]) => lines.map((l) => `${l.stream}:${l.text.toString()}${l.complete ? '' : '(no newline)'}`);

test('parseRecord: stream, flag and the text after the third space, spaces and all', () => {
  const r = parseRecord(Buffer.from('2024-05-01T10:00:00.5Z stderr P  two  spaces '))!;
  assert.is(r.time, '2024-05-01T10:00:00.5Z');
  assert.is(r.stream, 'stderr');
  assert.is(r.partial, true);
  assert.is(r.text.toString(), ' two  spaces ');
  assert.is(parseRecord(Buffer.from('2024-05-01T10:00:00Z stdout F'))!.text.length, 0);
  assert.is(parseRecord(Buffer.from('2024-05-01T10:00:00Z stdout F '))!.text.length, 0);
  assert.is(parseRecord(Buffer.from('2024-05-01T10:00:00Z stdin F x')), undefined);
  assert.is(parseRecord(Buffer.from('2024-05-01T10:00:00Z stdout X x')), undefined);
  assert.is(parseRecord(Buffer.from('2024-05-01T10:00:00Z stdout Fx')), undefined);
  assert.is(parseRecord(Buffer.from('garbage')), undefined);
});

test('parseTimestamp: nanoseconds, zones', () => {
  assert.is(parseTimestamp('1970-01-01T00:00:01.000000002Z'), 1_000_000_002n);
  assert.is(parseTimestamp('1970-01-01T01:00:01+01:00'), 1_000_000_000n);
  assert.is(parseTimestamp('1970-01-01T00:00:00.5-00:30'), 1800_500_000_000n);
  assert.is(parseTimestamp('yesterday'), undefined);
});

test('readLogs: partial records joined with what follows; stdout and stderr lines apart; the F record’s time', async () => {
  writeFileSync(
    path,
    Buffer.concat([
      record(1, 'stdout', 'F', 'one'),
      record(2, 'stdout', 'P', 'tw'),
      record(3, 'stdout', 'P', 'o '),
      record(4, 'stdout', 'F', 'joined'),
      record(5, 'stderr', 'F', 'an error'),
      record(6, 'stdout', 'F', ''),
    ]),
  );
  const lines = await collect();
  assert.equal(texts(lines), ['stdout:one', 'stdout:two joined', 'stderr:an error', 'stdout:']);
  assert.is(lines[1]!.time, ts(4));
});

test('readLogs: a stream’s partial line is continued by its own next record, not the other stream’s', async () => {
  writeFileSync(path, Buffer.concat([record(1, 'stdout', 'P', 'out-'), record(2, 'stderr', 'F', 'err'), record(3, 'stdout', 'F', 'line')]));
  assert.equal(texts(await collect()), ['stderr:err', 'stdout:out-line']);
});

test('readLogs: bytes come out as they went in (UTF-8, invalid UTF-8, control bytes, CR)', async () => {
  const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x1b, 0x5b, 0x6d, 0x0d, 0xe2, 0x82]);
  writeFileSync(path, Buffer.concat([record(1, 'stdout', 'F', 'héllo ✓'), record(2, 'stdout', 'P', binary.subarray(0, 9)), record(3, 'stdout', 'F', binary.subarray(9))]));
  const lines = await collect();
  assert.ok(lines[0]!.text.equals(Buffer.from('héllo ✓')));
  assert.ok(lines[1]!.text.equals(binary));
});

test('readLogs: output that never got its newline comes last, marked incomplete; a missing file is an empty log', async () => {
  writeFileSync(path, Buffer.concat([record(1, 'stdout', 'F', 'a'), record(2, 'stdout', 'P', 'no newline')]));
  assert.equal(texts(await collect()), ['stdout:a', 'stdout:no newline(no newline)']);
  rmSync(path);
  assert.equal(await collect(), []);
});

test('readLogs: damaged lines are skipped, a half-written last record is not read', async () => {
  writeFileSync(path, Buffer.concat([record(1, 'stdout', 'F', 'a'), Buffer.from('not a record\n'), record(2, 'stdout', 'F', 'b'), Buffer.from(`${ts(3)} stdout F hal`)]));
  assert.equal(texts(await collect()), ['stdout:a', 'stdout:b']);
});

test('--tail: whole lines (partials joined), 0, more than there are, a trailing partial counts as a line', async () => {
  writeFileSync(
    path,
    Buffer.concat([
      record(1, 'stdout', 'F', 'l1'),
      record(2, 'stdout', 'P', 'l2-'),
      record(3, 'stdout', 'P', 'part-'),
      record(4, 'stdout', 'F', 'end'),
      record(5, 'stderr', 'F', 'l3'),
      record(6, 'stdout', 'F', 'l4'),
    ]),
  );
  assert.equal(texts(await collect({ tail: 1 })), ['stdout:l4']);
  assert.equal(texts(await collect({ tail: 3 })), ['stdout:l2-part-end', 'stderr:l3', 'stdout:l4']);
  assert.equal(texts(await collect({ tail: 0 })), []);
  assert.equal(texts(await collect({ tail: 10 })).length, 4);
  assert.equal(texts(await collect({ tail: -1 })).length, 4);
  appendFileSync(path, record(7, 'stdout', 'P', 'tail'));
  assert.equal(texts(await collect({ tail: 2 })), ['stdout:l4', 'stdout:tail(no newline)']);
});

test('--tail on a large log reads from the end only', async () => {
  const chunks: Buffer[] = [];
  for (let i = 1; i <= 200_000; i++) chunks.push(record(i, 'stdout', 'F', `line ${i} ${'x'.repeat(20)}`));
  writeFileSync(path, Buffer.concat(chunks));
  const size = (await fs.stat(path)).size;
  assert.ok(size > 10 * 1024 * 1024, `a large file (${size} bytes)`);

  const handle = await fs.open(path, 'r');
  let bytesRead = 0;
  const counting = new Proxy(handle, {
    get(target, prop) {
      if (prop === 'read') {
        return async (...args: Parameters<typeof handle.read>) => {
          const result = await (target.read as (...a: unknown[]) => Promise<{ bytesRead: number }>)(...args);
          bytesRead += result.bytesRead;
          return result;
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const offset = await tailOffset(counting, size, 5);
  await handle.close();
  assert.ok(bytesRead < 200 * 1024, `read ${bytesRead} bytes for 5 lines`);
  assert.ok(offset > size - 1024);
  assert.equal(
    (await collect({ tail: 5 })).map((l) => l.text.toString().split(' ')[1]),
    ['199996', '199997', '199998', '199999', '200000'],
  );
  // a tail longer than one read chunk still lands on a record boundary
  const many = await collect({ tail: 50_000 });
  assert.is(many.length, 50_000);
  assert.is(many[0]!.text.toString().split(' ')[1], '150001');
});

test('--since and --until: strictly after and strictly before, to the nanosecond; with --tail, the tail first', async () => {
  writeFileSync(path, Buffer.concat([1, 2, 3, 4, 5].map((n) => record(n, 'stdout', 'F', `l${n}`))));
  const at = (n: number) => parseTimestamp(ts(n))!;
  assert.equal(texts(await collect({ since: at(2) })), ['stdout:l3', 'stdout:l4', 'stdout:l5']);
  assert.equal(texts(await collect({ until: at(2) })), ['stdout:l1']);
  assert.equal(texts(await collect({ since: at(1), until: at(4) })), ['stdout:l2', 'stdout:l3']);
  assert.equal(texts(await collect({ since: at(2) - 1n })), ['stdout:l2', 'stdout:l3', 'stdout:l4', 'stdout:l5']);
  assert.equal(texts(await collect({ tail: 2, since: at(1) })), ['stdout:l4', 'stdout:l5']);
  assert.equal(texts(await collect({ tail: 2, until: at(5) })), ['stdout:l4']);
});

test('parseGoDuration and parseTimeOption as podman reads --since/--until', () => {
  assert.is(parseGoDuration('10m'), 600_000_000_000n);
  assert.is(parseGoDuration('1h30m'), 5_400_000_000_000n);
  assert.is(parseGoDuration('1.5s'), 1_500_000_000n);
  assert.is(parseGoDuration('250ms'), 250_000_000n);
  assert.is(parseGoDuration('-2h'), -7_200_000_000_000n);
  assert.is(parseGoDuration('0'), 0n);
  assert.is(parseGoDuration('10'), undefined);
  assert.is(parseGoDuration('1x'), undefined);
  assert.is(parseGoDuration(''), undefined);

  const now = 1_700_000_000_000_000_000n;
  assert.is(parseTimeOption('--since', '10m', now), now - 600_000_000_000n);
  assert.is(parseTimeOption('--until', '10m', now), now + 600_000_000_000n);
  assert.is(parseTimeOption('--since', '2024-05-01T10:00:00.000000001Z'), parseTimestamp('2024-05-01T10:00:00Z')! + 1n);
  assert.is(parseTimeOption('--since', '2024-05-01T12:00:00+02:00'), parseTimestamp('2024-05-01T10:00:00Z')!);
  assert.is(parseTimeOption('--since', '2024-05-01T10:00:00'), parseTimestamp('2024-05-01T10:00:00Z')!);
  assert.is(parseTimeOption('--since', '2024-05-01'), parseTimestamp('2024-05-01T00:00:00Z')!);
  assert.is(parseTimeOption('--since', '1700000000'), 1_700_000_000_000_000_000n);
  assert.is(parseTimeOption('--since', '1700000000.5'), 1_700_000_000_500_000_000n);
  assert.throws(() => parseTimeOption('--until', 'tomorrow'), /parsing --until "tomorrow": unable to interpret time value/);
});

test('formatLines: -t puts the record’s timestamp first, the prefix before it; a stream run is one Buffer', () => {
  const line = (stream: 'stdout' | 'stderr', text: string, complete = true): LogLine => ({ time: ts(1), stream, text: Buffer.from(text), complete });
  const out = formatLines([line('stdout', 'a'), line('stdout', 'b'), line('stderr', 'e'), line('stdout', 'c', false)], { timestamps: true });
  assert.equal(
    out.map((o) => [o.stream, o.data.toString()]),
    [
      ['stdout', `${ts(1)} a\n${ts(1)} b\n`],
      ['stderr', `${ts(1)} e\n`],
      ['stdout', `${ts(1)} c`],
    ],
  );
  assert.is(formatLines([line('stdout', 'x')], { prefix: 'web', timestamps: false })[0]!.data.toString(), 'web x\n');
  assert.is(formatLines([line('stdout', 'x')])[0]!.data.toString(), 'x\n');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('followLogs: records split across writes (mid-record, mid-flag, partials), nothing lost or repeated, ends when the writer stops', async () => {
  writeFileSync(path, record(1, 'stdout', 'F', 'before'));
  let running = true;
  const got: LogLine[] = [];
  const following = followLogs(path, { isRunning: async () => running, pollMs: 1000 }, (batch) => {
    got.push(...batch);
  });
  const pieces = Buffer.concat([record(2, 'stdout', 'F', 'second'), record(3, 'stderr', 'P', 'par'), record(4, 'stderr', 'F', 'tial'), record(5, 'stdout', 'F', 'last')]);
  // cut at every kind of place: inside the timestamp, before the flag, inside the text, at a newline
  const cuts = [5, 33, 40, pieces.indexOf(0x0a) + 1, pieces.indexOf(Buffer.from(' P ')) + 2, pieces.length - 3, pieces.length];
  let from = 0;
  for (const cut of cuts) {
    appendFileSync(path, pieces.subarray(from, cut));
    from = cut;
    await sleep(30);
  }
  running = false;
  await withTimeout(following, 5000, 'followLogs to end after the writer stopped');
  assert.equal(texts(got), ['stdout:before', 'stdout:second', 'stderr:partial', 'stdout:last']);
});

test('followLogs: a writer racing at full speed in odd-sized writes, 100 000 lines in order, and the last written just before it stops', async () => {
  writeFileSync(path, '');
  let running = true;
  let count = 0;
  let inOrder = true;
  const following = followLogs(path, { isRunning: async () => running, pollMs: 50 }, (batch) => {
    for (const line of batch) {
      count++;
      if (line.text.toString() !== String(count)) inOrder = false;
    }
  });
  const handle = await fs.open(path, 'a');
  let pending = Buffer.alloc(0);
  for (let i = 1; i <= 100_000; i++) {
    pending = Buffer.concat([pending, record(i, 'stdout', 'F', String(i))]);
    if (pending.length > 3000 || i === 100_000) {
      // an odd size, so that records are cut anywhere
      const cut = Math.min(pending.length, 1 + ((i * 7919) % 4096));
      await handle.write(pending.subarray(0, cut));
      pending = pending.subarray(cut);
      if (i % 10_000 === 0) await sleep(1);
    }
  }
  while (pending.length > 0) {
    await handle.write(pending.subarray(0, 1000));
    pending = pending.subarray(1000);
  }
  await handle.close();
  running = false;
  await withTimeout(following, 20_000, 'followLogs to catch up and end');
  assert.is(count, 100_000);
  assert.ok(inOrder, 'every line in order');
});

test('followLogs: --tail then what comes; no file and no writer is an empty log; a missing file made later is read', async () => {
  writeFileSync(path, Buffer.concat([1, 2, 3].map((n) => record(n, 'stdout', 'F', `l${n}`))));
  let running = true;
  const got: LogLine[] = [];
  const following = followLogs(path, { tail: 1, isRunning: async () => running, pollMs: 50 }, (batch) => {
    got.push(...batch);
  });
  await sleep(50);
  appendFileSync(path, record(4, 'stderr', 'F', 'l4'));
  await sleep(50);
  running = false;
  await withTimeout(following, 5000, 'followLogs with --tail');
  assert.equal(texts(got), ['stdout:l3', 'stderr:l4']);

  rmSync(path);
  const none: LogLine[] = [];
  await withTimeout(followLogs(path, { isRunning: async () => false }, (b) => void none.push(...b)), 2000, 'follow of no log');
  assert.equal(none, []);

  running = true;
  const later: LogLine[] = [];
  const waiting = followLogs(path, { isRunning: async () => running, pollMs: 20 }, (b) => void later.push(...b));
  await sleep(60);
  writeFileSync(path, record(1, 'stdout', 'F', 'made later'));
  await sleep(60);
  running = false;
  await withTimeout(waiting, 5000, 'follow of a log made later');
  assert.equal(texts(later), ['stdout:made later']);
});

test('followLogs: --until in the past ends at once; an abort ends following', async () => {
  writeFileSync(path, record(1, 'stdout', 'F', 'old'));
  const got: LogLine[] = [];
  await withTimeout(
    followLogs(path, { until: parseTimestamp(ts(2)), isRunning: async () => true }, (b) => void got.push(...b)),
    2000,
    'follow with --until passed',
  );
  assert.equal(texts(got), ['stdout:old']);

  const stop = new AbortController();
  const following = followLogs(path, { isRunning: async () => true, signal: stop.signal, pollMs: 10_000 }, () => {});
  await sleep(20);
  stop.abort();
  await withTimeout(following, 2000, 'follow to end on abort');
});

test.run();
