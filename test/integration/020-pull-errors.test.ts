// What a user sees when a pull cannot succeed: one line, exit code 125,
// and nothing half-written left in the store.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { pushBusybox, pushBig } from '../lib/fixtures.js';
import { runTsbox } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { conditionalTest } from '../lib/skip.js';

const test = suite<{ registry: TestRegistry; secured: TestRegistry; busybox: string; stores: TestStore[] }>('pull errors');

test.before(async (context) => {
  context.stores = [];
  context.registry = await startRegistry();
  context.busybox = await pushBusybox(context.registry);
  const htpasswd = join(context.registry.dir, 'htpasswd');
  writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', 'alice', 'secret']));
  context.secured = await startRegistry({ htpasswd });
});

test.after(async (context) => {
  for (const store of context.stores) await store.cleanup();
  await context.registry?.stop();
  await context.secured?.stop();
});

function storeFor(context: { stores: TestStore[] }, host: string): TestStore {
  const store = createTestStore();
  store.useRegistry(host);
  context.stores.push(store);
  return store;
}

function assertOneLineError(result: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.is(result.code, 125, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.is(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /^Error: /);
  assert.match(lines[0]!, pattern);
}

test('a malformed image name is refused before anything is contacted', async (context) => {
  const store = storeFor(context, context.registry.host);
  assertOneLineError(await runTsbox(['pull', 'Alpine'], { env: store.env }), /invalid reference format: repository name must be lowercase/);
  assertOneLineError(await runTsbox(['pull', 'alpine@sha256:abc'], { env: store.env }), /invalid reference format/);
  assert.not.ok(existsSync(store.store), 'no store was created');
});

test('a registry that is not there says so', async (context) => {
  // a port that was free a moment ago
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  const store = storeFor(context, `127.0.0.1:${port}`);
  assertOneLineError(await runTsbox(['pull', `127.0.0.1:${port}/x`], { env: store.env }), new RegExp(`cannot reach registry 127.0.0.1:${port}: connection refused`));
});

test('a registry that wants credentials names the login command; with them the pull works', async (context) => {
  const store = storeFor(context, context.secured.host);
  const ref = await pushBusybox({ host: context.secured.host, credentials: { username: 'alice', password: 'secret' } });
  const denied = await runTsbox(['pull', `${context.secured.host}/library/busybox`], { env: store.env });
  assertOneLineError(denied, new RegExp(`tsbox login ${context.secured.host.replace(/\./g, '\\.')}`));
  const login = await runTsbox(['login', '-u', 'alice', '--password-stdin', context.secured.host], { env: store.env, input: 'secret\n' });
  assert.is(login.code, 0, login.stderr);
  const pulled = await runTsbox(['pull', '-q', ref], { env: store.env });
  assert.is(pulled.code, 0, pulled.stderr);
});

const small = process.env.TSBOX_TEST_SMALL_DISK;
const testIf = conditionalTest(test);

testIf(small ? undefined : 'no small filesystem to fill (TSBOX_TEST_SMALL_DISK; scripts/test.sh mounts one when run as root)', 'a full disk fails the pull with one line and leaves the store consistent', async (context) => {
  if (!small) return;
  const big = await pushBig(context.registry, { sizeMB: 40, layers: 2, repository: 'errors/big' });
  const store = storeFor(context, context.registry.host);
  const env = { ...store.env, TSBOX_ROOT: join(small, `store-${process.pid}`) };
  const result = await runTsbox(['pull', '-q', big], { env, timeoutMs: 300_000 });
  assertOneLineError(result, /no space left on device \(free space on the store's disk: see tsbox system df, remove with tsbox system prune, or move the store with TSBOX_ROOT\)/);
  // the next command reads the store without error, and a small pull still works after cleaning up
  const images = await runTsbox(['images', '-q'], { env });
  assert.is(images.code, 0, images.stderr);
  assert.is(images.stdout, '');
  const layers = join(env.TSBOX_ROOT, 'layers');
  const committed = existsSync(layers) ? readdirSync(layers) : [];
  for (const layer of committed) assert.ok(existsSync(join(layers, layer, 'layer.json')), `layer ${layer} is whole`);
  const tmp = join(env.TSBOX_ROOT, 'tmp');
  assert.equal(existsSync(tmp) ? readdirSync(tmp).filter((n) => !n.startsWith('hold-')) : [], [], 'no work directories left');
});

test.run();
