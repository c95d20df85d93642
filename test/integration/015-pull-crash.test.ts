// kill -9 at any point of a pull leaves a store that the next command reads
// without error, and the next pull completes (resuming what it can).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { pushBig } from '../lib/fixtures.js';
import { runTsbox, TSBOX_BIN } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { withTimeout } from '../lib/timeout.js';

const test = suite<{ registry: TestRegistry; big: string; stores: TestStore[] }>('pull crash safety');

test.before(async (context) => {
  context.registry = await startRegistry();
  context.big = await pushBig(context.registry, { sizeMB: 48, layers: 3, repository: 'crash/big' });
  context.stores = [];
});

test.after(async (context) => {
  for (const store of context.stores) await store.cleanup();
  await context.registry?.stop();
});

/**
 * Starts `tsbox pull` in its own process group and kills the whole group with
 * SIGKILL once `when()` says so (polled every 10 ms), or after `ms`.
 */
async function pullKilled(store: TestStore, ref: string, when: { ms: number; condition?: () => boolean }): Promise<void> {
  const child = spawn(process.execPath, [TSBOX_BIN, 'pull', '-q', ref], {
    env: { ...process.env, ...store.env },
    stdio: 'ignore',
    detached: true,
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const started = Date.now();
  const poll = setInterval(() => {
    if ((when.condition && when.condition()) || Date.now() - started >= when.ms) kill();
  }, 10);
  await withTimeout(exited, 300_000, 'the killed pull to exit');
  clearInterval(poll);
  // the helper and the inner tsbox are in the same group: wait until none is left
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      process.kill(-child.pid!, 0);
    } catch {
      break;
    }
    if (Date.now() > deadline) throw new Error('processes of the killed pull still running');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Bytes in partial downloads of `store` now. */
function partialBytes(store: TestStore): number {
  const dir = join(store.store, 'downloads');
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const name of readdirSync(dir)) {
    if (!name.includes('.partial.')) continue;
    try {
      total += statSync(join(dir, name)).size;
    } catch {
      // renamed or removed meanwhile
    }
  }
  return total;
}

test('after kill -9 at any point, images works and the next pull completes', async (context) => {
  // Spread the kills over the whole pull: handshake, downloads, unpack, commit.
  const delays = [30, 120, 250, 400, 600, 900, 1300, 1800, 2500, 3500];
  for (const ms of delays) {
    const store = createTestStore();
    context.stores.push(store);
    store.useRegistry(context.registry.host);
    await pullKilled(store, context.big, { ms });
    const images = await runTsbox(['images', '--format', 'json'], { env: store.env });
    assert.is(images.code, 0, `after a kill at ${ms} ms: ${images.stderr}`);
    const listed = JSON.parse(images.stdout || '[]') as unknown[];
    assert.ok(listed.length <= 1);
    const again = await runTsbox(['pull', '-q', context.big], { env: store.env, timeoutMs: 300_000 });
    assert.is(again.code, 0, `pull after a kill at ${ms} ms: ${again.stderr}`);
    const after = JSON.parse((await runTsbox(['images', '--format', 'json'], { env: store.env })).stdout) as unknown[];
    assert.is(after.length, 1);
    assert.is(readdirSync(join(store.store, 'layers')).length, 4, 'busybox layer + 3 generated');
    // what the killed pull left in progress is gone or adopted once the next pull is done
    const downloads = join(store.store, 'downloads');
    if (existsSync(downloads)) assert.equal(readdirSync(downloads), [], `downloads left after a kill at ${ms} ms`);
  }
});

test('a pull killed midway resumes its partial download', async (context) => {
  const store = createTestStore();
  context.stores.push(store);
  store.useRegistry(context.registry.host);
  // kill it once 8 MiB of some layer are saved
  await pullKilled(store, context.big, { ms: 240_000, condition: () => partialBytes(store) > 8 << 20 });
  assert.ok(partialBytes(store) > 0, 'a killed pull left a partial download to resume');
  const again = await runTsbox(['--log-level', 'debug', 'pull', context.big], { env: store.env, timeoutMs: 300_000 });
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /resuming sha256:[0-9a-f]{64} at byte [1-9]/);
});

test.run();
