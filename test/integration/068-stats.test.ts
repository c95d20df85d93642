// `tsbox stats` on real detached containers (busybox from a test registry),
// as the unprivileged user: CPU of a busy loop, memory a shell holds, the
// processes started in a container, bytes received through a published port,
// the table, templates, streaming into a pipe, and podman's errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { TSBOX_BIN } from '../lib/tsbox.js';
import { okIn as ok, startBusyboxStore, stopBusyboxStore, tsboxIn as tsbox, type BusyboxContext } from '../lib/busybox-suite.js';
import { waitFor, withTimeout } from '../lib/timeout.js';

type Context = BusyboxContext;

interface JsonStats {
  id: string;
  name: string;
  cpu_time: string;
  cpu_percent: string;
  avg_cpu: string;
  mem_usage: string;
  mem_percent: string;
  net_io: string;
  block_io: string;
  pids: string;
}

const test = suite<Context>('stats');

test.before(startBusyboxStore);
test.after(stopBusyboxStore);

async function stats(context: Context, name: string): Promise<JsonStats> {
  const parsed = JSON.parse(await ok(context, ['stats', '--no-stream', '--format', 'json', name])) as JsonStats[];
  assert.is(parsed.length, 1);
  assert.is(parsed[0]!.name, name);
  return parsed[0]!;
}

/** "3.092MB" -> 3092000 (go-units HumanSize, as podman prints it). */
function bytes(size: string): number {
  const m = size.match(/^([\d.]+)(B|kB|MB|GB|TB)$/);
  assert.ok(m, `a size: ${size}`);
  return Number(m[1]) * 1000 ** ['B', 'kB', 'MB', 'GB', 'TB'].indexOf(m[2]!);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Sends `size` bytes to 127.0.0.1:port; resolves whether the connection took them (false while nothing listens). */
function send(port: number, size: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on('error', () => resolve(false));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.end(Buffer.alloc(size, 'x'));
  });
}

const HEADER = /^ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET IO\s+BLOCK IO\s+PIDS\s+CPU TIME\s+AVG CPU %$/;

test('no running containers: the header only, and [] as JSON', async (context) => {
  const out = await ok(context, ['stats', '--no-stream']);
  assert.is(out.split('\n').length, 2, out);
  assert.match(out.trim(), HEADER);
  assert.is((await ok(context, ['stats', '--no-stream', '--format', 'json'])).trim(), '[]');

  // a reader that goes away after the first report (`stats | head -1`) ends the stream, exit 0, no stack trace
  const child = spawn(process.execPath, ['--', TSBOX_BIN, 'stats', '-i', '1'], { env: { ...process.env, ...context.store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await withTimeout(new Promise((r) => child.once('close', r)), 10_000, 'stats to end when its reader went away').finally(() => child.kill('SIGKILL'));
  assert.is(code, 0, stderr);
  assert.is(stderr, '');
});

test('a busy loop shows CPU, a shell holding 20 MB shows the memory, PIDS counts processes', async (context) => {
  const burn = (await ok(context, ['run', '-d', '--name', 'burn', '--network', 'none', 'busybox', 'sh', '-c', 'while :; do :; done'])).trim();
  // (the command after sleep keeps the shell, and x, alive: ash would exec a last command)
  await ok(context, ['run', '-d', '--name', 'mem', '--network', 'none', 'busybox', 'sh', '-c', 'x=$(head -c 20000000 /dev/zero | tr "\\0" a); sleep 1000; : "$x"']);
  await ok(context, ['run', '-d', '--name', 'procs', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 1000 & sleep 1000 & sleep 1000 & wait']);

  // the first sample covers the time since start: a second of spinning is plenty
  await new Promise((r) => setTimeout(r, 1500));
  const busy = await stats(context, 'burn');
  assert.is(busy.id, burn.slice(0, 12));
  assert.match(busy.cpu_percent, /^\d+\.\d\d%$/);
  assert.ok(Number.parseFloat(busy.cpu_percent) > 10, `a busy loop uses CPU: ${busy.cpu_percent}`);
  assert.ok(Number.parseFloat(busy.avg_cpu) > 10, busy.avg_cpu);
  assert.match(busy.cpu_time, /^(\d+ms|[\d.]+s)$/);
  assert.is(busy.pids, '1');
  // the container's root is the user's own uid on the host: its /proc/PID/io is readable
  assert.match(busy.block_io, /^[\d.]+[kMG]?B \/ [\d.]+[kMG]?B$/);

  // memory: at least the 20 MB the shell holds (poll: the shell builds the string first)
  let last: JsonStats | undefined;
  const held = await waitFor(
    async () => {
      last = await stats(context, 'mem');
      return bytes(last.mem_usage.split(' / ')[0]!) > 20_000_000 ? last : undefined;
    },
    20_000,
    'the memory of the mem container to pass 20 MB',
    250,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}; its log: ${(await tsbox(context, ['logs', 'mem'])).stderr}`);
  });
  const [usage, limit] = held.mem_usage.split(' / ');
  assert.ok(bytes(limit!) > bytes(usage!), held.mem_usage);
  assert.ok(Number.parseFloat(held.mem_percent) > 0, held.mem_percent);

  // PIDS: sh and three sleeps
  const procs = await waitFor(
    async () => {
      const s = await stats(context, 'procs');
      return s.pids === '4' ? s : undefined;
    },
    10_000,
    'four processes in the procs container',
    100,
  );
  assert.is(procs.pids, '4');

  // templates and tables over the same containers
  assert.is(await ok(context, ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.PIDS}}', 'procs']), 'procs 4 4\n');
  assert.is(await ok(context, ['stats', '--no-stream', '--format', '{{.ID}}', '--no-trunc', 'burn']), `${burn}\n`);
  const table = (await ok(context, ['stats', '--no-stream', '--format', 'table {{.Name}}\t{{.PIDs}}', 'procs', 'burn'])).split('\n');
  assert.match(table[0]!, /^NAME\s+PIDS$/);
  assert.match(table[1]!, /^procs\s+4$/);
  assert.match(table[2]!, /^burn\s+1$/);
  const all = (await ok(context, ['stats', '--no-stream'])).trim().split('\n');
  assert.match(all[0]!, HEADER);
  assert.equal(all.slice(1).map((l) => l.split(/\s+/)[1]).sort(), ['burn', 'mem', 'procs']);
  const burnRow = all.find((l) => l.startsWith(burn.slice(0, 12)))!;
  assert.match(burnRow, /^[0-9a-f]{12}\s+burn\s+\d+\.\d\d%\s+[\d.]+[kMG]?B \/ [\d.]+[kMGT]?B\s+\d+\.\d\d%\s+0B \/ 0B\s+[\d.]+[kMG]?B \/ [\d.]+[kMG]?B\s+1\s+\S+\s+\d+\.\d\d%$/);
});

test('a container user other than root runs under a subordinate uid: BLOCK IO is --', async (context) => {
  await ok(context, ['run', '-d', '--name', 'other', '--network', 'none', '--user', '1000', 'busybox', 'sleep', '1000']);
  const s = await stats(context, 'other');
  assert.is(s.block_io, '-- / --');
  assert.is(s.pids, '1');
  await ok(context, ['rm', '-f', 'other']);
});

test('streaming into a pipe: one full report per interval, no escape codes', async (context) => {
  const child = spawn(process.execPath, ['--', TSBOX_BIN, 'stats', '-i', '1', 'burn'], { env: { ...process.env, ...context.store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  try {
    await waitFor(() => ((out.match(/^ID\s+NAME/gm) ?? []).length >= 3 ? true : undefined), 15_000, 'three reports', 50);
  } finally {
    child.kill('SIGTERM');
    await withTimeout(new Promise((r) => child.once('close', r)), 5000, 'stats to end');
  }
  assert.not.ok(out.includes('\x1b'), 'no escape codes into a pipe');
  const reports = out.split(/^(?=ID\s+NAME)/m).filter((r) => r !== '');
  for (const report of reports.slice(0, 3)) {
    const lines = report.trim().split('\n');
    assert.is(lines.length, 2, report);
    assert.match(lines[1]!, /\sburn\s/);
    // later reports cover one interval: the loop still spins
    assert.ok(Number.parseFloat(lines[1]!.split(/\s{2,}/)[2]!) > 10, lines[1]);
  }
});

// slirp4netns: pasta splices connections from the host's loopback into the
// container's own lo, which stats (as podman) does not count
test('NET IO counts the bytes that came in through a published port', async (context) => {
  const port = await freePort();
  await ok(context, ['run', '-d', '--name', 'net', '--network', 'slirp4netns', '-p', `127.0.0.1:${port}:8080`, 'busybox', 'sh', '-c', 'while :; do nc -l -p 8080 > /dev/null; done']);
  const input = (s: JsonStats) => bytes(s.net_io.split(' / ')[0]!);
  const before = input(await stats(context, 'net'));
  // send 200 kB at a time until the container's interface has seen them (nc may not listen yet)
  const after = await waitFor(
    async () => {
      await send(port, 200_000);
      const now = input(await stats(context, 'net'));
      return now >= before + 200_000 ? now : undefined;
    },
    20_000,
    'the net container to receive 200 kB',
    200,
  );
  assert.ok(after >= before + 200_000, `${before} -> ${after}`);
  const out = bytes((await stats(context, 'net')).net_io.split(' / ')[1]!);
  assert.ok(out > 0, 'the replies (TCP acknowledgements) went out');
});

test("podman's errors: a stopped container, an unknown one, flags that conflict; -a shows stopped ones", async (context) => {
  await ok(context, ['stop', '-t', '0', 'procs']);
  const stopped = await tsbox(context, ['stats', '--no-stream', 'procs']);
  assert.is(stopped.code, 125);
  assert.match(stopped.stderr, /^Error: container state improper/);
  assert.is(stopped.stdout, '');

  const unknown = await tsbox(context, ['stats', '--no-stream', 'nosuch']);
  assert.is(unknown.code, 125);
  assert.match(unknown.stderr, /^Error: no container with name or ID "nosuch" found: no such container/);

  const both = await tsbox(context, ['stats', '--no-stream', '-a', 'burn']);
  assert.is(both.code, 125);
  assert.match(both.stderr, /^Error: --all, --latest and containers cannot be used together/);
  const interval = await tsbox(context, ['stats', '-i', '0']);
  assert.is(interval.code, 125);
  assert.match(interval.stderr, /^Error: invalid interval, must be a positive number greater zero/);

  // without names, only running containers; -a adds the stopped one with zeros
  const running = await ok(context, ['stats', '--no-stream', '--format', '{{.Name}}']);
  assert.not.ok(running.split('\n').includes('procs'), running);
  const withStopped = await ok(context, ['stats', '--no-stream', '-a', '--format', '{{.Name}} {{.CPUPerc}} {{.PIDs}}']);
  assert.ok(withStopped.split('\n').includes('procs 0.00% 0'), withStopped);

  await ok(context, ['rm', '-f', '-a']);
  const none = await ok(context, ['stats', '--no-stream']);
  assert.match(none.trim(), HEADER);
});

test.run();
