// The /proc parsers and podman's arithmetic behind `tsbox stats`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeStats, parseIo, parseKbField, parseNetDev, parseStatCpuTicks, parseStatRss, type UsageSample } from '../../core/container/stats.js';

// a real /proc/PID/stat line, with a command name holding a space and a parenthesis
const STAT =
  '4242 (my (sh) x) S 4241 4242 4242 0 -1 4194560 520 0 0 0 150 25 7 3 20 0 1 0 123456 4505600 300 18446744073709551615 1 1 0 0 0 0 0 0 65536 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0';

test('stat: utime + stime + cutime + cstime, after a command with spaces and parentheses', () => {
  assert.is(parseStatCpuTicks(STAT), 150 + 25 + 7 + 3);
  assert.is(parseStatRss(STAT), 300 * 4096);
});

test('smaps_rollup and meminfo: a kB field in bytes, undefined when absent', () => {
  const rollup = '55d0c0a5e000-7ffd4e5f9000 ---p 00000000 00:00 0                          [rollup]\nRss:                1852 kB\nPss:                 216 kB\nPss_Dirty:           108 kB\n';
  assert.is(parseKbField(rollup, 'Pss'), 216 * 1024);
  assert.is(parseKbField(rollup, 'Rss'), 1852 * 1024);
  assert.is(parseKbField(rollup, 'Swap'), undefined);
  assert.is(parseKbField('MemTotal:        8039944 kB\nMemFree:  1 kB\n', 'MemTotal'), 8039944 * 1024);
});

test('net/dev: received and sent bytes of every interface but lo', () => {
  const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    9999       9    0    0    0     0          0         0     9999       9    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0      700       8    0    0    0     0       0          0
   tap0:100 1 0 0 0 0 0 0 20 1 0 0 0 0 0 0
`;
  assert.equal(parseNetDev(dev), { rx: 1600, tx: 720 });
  assert.equal(parseNetDev(''), { rx: 0, tx: 0 });
});

test('io: read_bytes and write_bytes (not rchar/wchar)', () => {
  const io = 'rchar: 5000\nwchar: 6000\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n';
  assert.equal(parseIo(io), { read: 4096, write: 8192 });
});

function sample(at: number, cpuSeconds: number): UsageSample {
  return { at, cpuSeconds, memoryBytes: 512 * 1024 * 1024, memoryLimit: 2048 * 1024 * 1024, pids: 3, netInput: 10, netOutput: 20 };
}

test('CPU %: since start for the first sample, since the previous one after; average since start', () => {
  const start = 1_000_000;
  // 10 s after start with 5 CPU seconds: 50 % both ways
  const first = computeStats('id', 'n', sample(start + 10_000, 5), { at: start, cpuSeconds: 0 }, start);
  assert.is(first.cpuPercent, 50);
  assert.is(first.avgCpuPercent, 50);
  // then 2 s with 2 CPU seconds: 100 % in the interval (one busy CPU), 7/12 on average
  const second = computeStats('id', 'n', sample(start + 12_000, 7), { at: start + 10_000, cpuSeconds: 5 }, start);
  assert.is(second.cpuPercent, 100);
  assert.ok(Math.abs(second.avgCpuPercent - (7 / 12) * 100) < 1e-9);
  assert.is(second.memPercent, 25);
  assert.is(second.blockInput, undefined);
  // a counter that went back (a restart) counts from the start again, never negative
  const restarted = computeStats('id', 'n', sample(start + 4_000, 1), { at: start + 3_000, cpuSeconds: 9 }, start);
  assert.is(restarted.cpuPercent, 25);
});

test.run();
