// tsbox logs of real detached containers, as the unprivileged user: -f keeps
// up with 100 000 lines and ends when the container exits, every line once and
// in order; --tail; stdout lines on stdout and stderr lines on stderr; -t; a
// line without its newline; no such container; a foreground container's
// (absent) log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { pushBusybox } from '../lib/fixtures.js';
import { runTsbox, TSBOX_BIN, type RunResult } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { withTimeout } from '../lib/timeout.js';

interface Context {
  registry: TestRegistry;
  store: TestStore;
}

const test = suite<Context>('logs');

test.before(async (context) => {
  context.registry = await startRegistry();
  await pushBusybox(context.registry);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host);
  const pulled = await tsbox(context, ['pull', image(context)]);
  assert.is(pulled.code, 0, pulled.stderr);
});

test.after(async (context) => {
  if (context.store) {
    await tsbox(context, ['rm', '-af', '-t', '0']).catch(() => undefined);
    await context.store.cleanup();
  }
  await context.registry?.stop();
});

function tsbox(context: Context, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return runTsbox(args, { env: context.store.env, timeoutMs });
}

function image(context: Context): string {
  return `${context.registry.host}/library/busybox:latest`;
}

/** `tsbox run -d --network none --name NAME busybox sh -c SCRIPT`: resolves to the container's id. */
async function runDetached(context: Context, name: string, script: string): Promise<string> {
  const r = await tsbox(context, ['run', '-d', '--network', 'none', '--name', name, image(context), 'sh', '-c', script]);
  assert.is(r.code, 0, `run -d ${name}: ${r.stderr}`);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/, `run -d printed ${JSON.stringify(r.stdout)}`);
  return id;
}

/** The recorded state (state.json) of a container, as the store holds it. */
function recordedStatus(context: Context, id: string): string | undefined {
  const path = join(context.store.store, 'containers', id, 'state.json');
  if (!existsSync(path)) return undefined;
  return (JSON.parse(readFileSync(path, 'utf8')) as { Status: string }).Status;
}

/** `tsbox logs ARGS` with its stdout and stderr as Buffers (bytes as printed). */
function logs(context: Context, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: Buffer; stderr: Buffer }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--', TSBOX_BIN, 'logs', ...args], { env: { ...process.env, ...context.store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
      setTimeout(() => child.kill('SIGKILL'), timeoutMs).unref();
    }),
    timeoutMs + 1000,
    `tsbox logs ${args.join(' ')}`,
  );
}

function numbers(from: number, to: number): string {
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`${i}\n`);
  return out.join('');
}

test('logs -f of a container printing 100 000 lines: all of them, in order, and it ends when the container exits', async (context) => {
  // the pause lets logs -f start while the container runs
  const id = await runDetached(context, 'counter', 'sleep 2; seq 1 100000');
  assert.is(recordedStatus(context, id), 'running', 'the container runs when logs -f starts');
  const started = Date.now();
  const followed = await logs(context, ['-f', 'counter'], 90_000);
  assert.is(followed.code, 0, followed.stderr.toString());
  assert.ok(Date.now() - started >= 1500, 'logs -f waited for the container’s output');
  const text = followed.stdout.toString();
  const expected = numbers(1, 100_000);
  if (text !== expected) {
    const lines = text.split('\n');
    const firstWrong = lines.findIndex((line, i) => line !== String(i + 1));
    assert.unreachable(`logs -f printed ${lines.length - 1} lines; the first wrong one is #${firstWrong + 1}: ${JSON.stringify(lines[firstWrong])}`);
  }
  assert.is(followed.stderr.length, 0, followed.stderr.toString());
  // it ended because the container exited, which it saw and recorded
  assert.is(recordedStatus(context, id), 'exited');

  // the whole log again, by id prefix, without -f
  const again = await logs(context, [id.slice(0, 12)], 30_000);
  assert.is(again.code, 0);
  assert.ok(again.stdout.equals(followed.stdout), 'logs prints what logs -f printed');
});

test('logs --tail 5, and -t', async (context) => {
  const tail = await logs(context, ['--tail', '5', 'counter'], 30_000);
  assert.is(tail.code, 0, tail.stderr.toString());
  assert.is(tail.stdout.toString(), numbers(99_996, 100_000));
  const zero = await logs(context, ['--tail=0', 'counter'], 30_000);
  assert.is(zero.stdout.length, 0);

  const stamped = await logs(context, ['-t', '--tail', '2', 'counter'], 30_000);
  const lines = stamped.stdout.toString().split('\n');
  assert.is(lines.length, 3);
  assert.match(lines[0]!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z 99999$/);
  assert.match(lines[1]!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z 100000$/);

  // everything is after an hour ago, nothing before it
  const since = await logs(context, ['--since', '1h', '--tail', '1', 'counter'], 30_000);
  assert.is(since.stdout.toString(), '100000\n');
  const until = await logs(context, ['--until', '2000-01-01T00:00:00Z', 'counter'], 30_000);
  assert.is(until.stdout.length, 0);
});

test('stderr lines go to stderr, stdout lines to stdout; a last line without its newline is printed as it is', async (context) => {
  await runDetached(context, 'streams', 'echo out1; echo err1 >&2; echo out2; printf "\\303\\251 no newline"');
  const r = await logs(context, ['-f', 'streams'], 30_000);
  assert.is(r.code, 0);
  assert.is(r.stdout.toString(), 'out1\nout2\né no newline');
  assert.is(r.stderr.toString(), 'err1\n');
});

test('logs of no such container fails as podman; a foreground container has no log and prints nothing', async (context) => {
  const missing = await logs(context, ['no-such-container'], 30_000);
  assert.is(missing.code, 125);
  assert.match(missing.stderr.toString(), /no container with name or ID "no-such-container" found: no such container/);

  const fg = await tsbox(context, ['run', '--network', 'none', '--name', 'foreground', image(context), 'echo', 'to the terminal']);
  assert.is(fg.code, 0, fg.stderr);
  assert.is(fg.stdout, 'to the terminal\n');
  const r = await logs(context, ['foreground'], 30_000);
  assert.is(r.code, 0, r.stderr.toString());
  assert.is(r.stdout.length + r.stderr.length, 0);
  const followed = await logs(context, ['-f', 'foreground'], 30_000);
  assert.is(followed.code, 0);
  assert.is(followed.stdout.length, 0);

  const both = await logs(context, ['-n', 'streams', 'foreground'], 30_000);
  assert.is(both.stdout.toString(), 'streams out1\nstreams out2\nstreams é no newline');
});

test('logs with no container, or with --latest and a container, is refused', async (context) => {
  const none = await logs(context, [], 30_000);
  assert.is(none.code, 125);
  assert.match(none.stderr.toString(), /specify at least one container name or ID to log/);
  const both = await logs(context, ['-l', 'counter'], 30_000);
  assert.is(both.code, 125);
  assert.match(both.stderr.toString(), /--latest and containers cannot be used together/);
  const latest = await logs(context, ['-l'], 30_000);
  assert.is(latest.code, 0, latest.stderr.toString()); // the foreground container, the latest made: no log
});

test.run();
