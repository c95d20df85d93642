// Name resolution through the DNS server --dns names: a container's
// resolv.conf points at it and lookups go there. The server is our own,
// started inside the container's network namespace (so the test needs no
// host port 53), answering one name.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { pushBusybox } from '../lib/fixtures.js';
import { runTsbox, type RunResult } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { withTimeout } from '../lib/timeout.js';

interface Context {
  registry: TestRegistry;
  store: TestStore;
  server?: ChildProcess;
}

const DNS_SERVER = fileURLToPath(new URL('../lib/dns-server.js', import.meta.url));
const test = suite<Context>('dns');

test.before(async (context) => {
  context.registry = await startRegistry();
  await pushBusybox(context.registry);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host, { mirrorDockerIo: true });
});

test.after(async (context) => {
  context.server?.kill('SIGKILL');
  await tsbox(context, ['rm', '-f', '-a']).catch(() => {});
  await context.store?.cleanup();
  await context.registry?.stop();
});

function tsbox(context: Context, args: string[]): Promise<RunResult> {
  return runTsbox(args, { env: context.store.env, timeoutMs: 60_000 });
}

/** Starts the DNS server on ADDRESS:53 in the network namespace of `pid`; resolves once it listens. */
function serveDns(pid: number, address: string, records: string[]): Promise<ChildProcess> {
  const child = spawn('nsenter', ['-U', '-n', '-t', String(pid), '--', process.execPath, DNS_SERVER, address, '53', ...records], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return withTimeout(
    new Promise<ChildProcess>((resolve, reject) => {
      child.stdout!.once('data', () => resolve(child));
      child.once('exit', (code) => reject(new Error(`the DNS server exited (${code}): ${stderr}`)));
    }),
    10_000,
    'the DNS server',
  );
}

test('--dns: resolv.conf names the server, and lookups are answered by it', async (context) => {
  const r = await tsbox(context, ['run', '-d', '--name', 'resolver', '--network', 'none', '--dns', '127.0.0.53', 'busybox', 'sleep', '120']);
  assert.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const state = JSON.parse(readFileSync(join(context.store.store, 'containers', id, 'state.json'), 'utf8')) as { Pid: number };
  const resolvConf = await tsbox(context, ['exec', 'resolver', 'cat', '/etc/resolv.conf']);
  assert.match(resolvConf.stdout, /^nameserver 127\.0\.0\.53$/m);
  assert.not.match(resolvConf.stdout, /^nameserver (?!127\.0\.0\.53$)/m, 'only the configured server');

  context.server = await serveDns(state.Pid, '127.0.0.53', ['answer.tsbox.test=10.44.0.7']);
  const found = await tsbox(context, ['exec', 'resolver', 'nslookup', 'answer.tsbox.test']);
  assert.is(found.code, 0, found.stdout + found.stderr);
  assert.match(found.stdout, /Address:?\s+10\.44\.0\.7/);
  const missing = await tsbox(context, ['exec', 'resolver', 'nslookup', 'nothing.tsbox.test']);
  assert.is.not(missing.code, 0);
  assert.not.match(missing.stdout, /10\.44\.0\.7/);
});

test.run();
