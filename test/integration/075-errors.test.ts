// The error catalogue (docs/errors.md), the part that needs a registry: an
// image or tag that is not there and a short name no search registry has.
// Unreachable registries, credentials and a full disk are in
// 020-pull-errors.test.ts; the rest in test/cli/errors.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { pushBusybox } from '../lib/fixtures.js';
import { runTsbox } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';

const test = suite<{ registry: TestRegistry; store: TestStore }>('errors');

test.before(async (context) => {
  context.registry = await startRegistry();
  await pushBusybox(context.registry);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host);
});

test.after(async (context) => {
  await context.store?.cleanup();
  await context.registry?.stop();
});

function assertError(result: { code: number | null; stderr: string }, line: string): void {
  assert.is(result.code, 125, result.stderr);
  assert.is(result.stderr, `Error: ${line}\n`);
}

test('a tag that is not there: the name, the registry\'s answer and what to check', async (context) => {
  const host = context.registry.host;
  const r = await runTsbox(['pull', '-q', `${host}/library/busybox:nosuch`], { env: context.store.env, timeoutMs: 60_000 });
  assertError(r, `${host}/library/busybox:nosuch: manifest unknown (check the image name and tag)`);
  const run = await runTsbox(['run', '--rm', `${host}/library/busybox:nosuch`, 'true'], { env: context.store.env, timeoutMs: 60_000 });
  assert.is(run.code, 125, run.stderr);
  assert.match(run.stderr, new RegExp(`^Error: .*${host.replace(/\./g, '\\.')}/library/busybox:nosuch: manifest unknown \\(check the image name and tag\\)\\n$`));
});

test('a short name no search registry has: every name tried, and where to add a registry', async (context) => {
  const host = context.registry.host;
  const port = host.split(':')[1];
  // two search registries (the same server under two names), neither has the image
  writeFileSync(
    context.store.env.CONTAINERS_REGISTRIES_CONF!,
    `unqualified-search-registries = ["${host}", "localhost:${port}"]\n\n[[registry]]\nlocation = "${host}"\ninsecure = true\n\n[[registry]]\nlocation = "localhost:${port}"\ninsecure = true\n`,
  );
  const r = await runTsbox(['pull', '-q', 'nosuchimage'], { env: context.store.env, timeoutMs: 60_000 });
  assertError(
    r,
    `nosuchimage:latest: image not found in any of the search registries (tried ${host}/nosuchimage:latest, localhost:${port}/nosuchimage:latest) (check the name, or add the registry to unqualified-search-registries in registries.conf)`,
  );
  context.store.useRegistry(host);
});

test('run that pulls warns about missing subordinate ids once, not once more for its pull', async (context) => {
  const empty = join(context.store.root, 'subuid-empty');
  writeFileSync(empty, '');
  const fresh = createTestStore();
  try {
    fresh.useRegistry(context.registry.host);
    const env = { ...fresh.env, TSBOX_SUBUID_FILE: empty, TSBOX_SUBGID_FILE: empty };
    const r = await runTsbox(['run', '--rm', '--network', 'none', `${context.registry.host}/library/busybox`, 'true'], { env, timeoutMs: 120_000 });
    assert.is(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((line) => line.includes('no subordinate uid range'));
    assert.is(warnings.length, 1, r.stderr);
  } finally {
    await fresh.cleanup();
  }
});

test.run();
