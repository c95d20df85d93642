import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainIds, initStore, sha256Digest, type ImageStore, LayerNotFoundError } from '../../../core/store/index.js';
import { TEST_MAPPING } from './fixtures.js';

let dir = '';
let store: ImageStore;
test.before.each(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-layers-'));
  store = await initStore(TEST_MAPPING, { root: join(dir, 'store') });
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('chainIds follows the OCI image spec', () => {
  const a = 'sha256:a9561eb1b190625c9adb5a9513e72c4dedafc1cb2d4c5236c9a6957ec7dfd5a9';
  const b = 'sha256:3b7b54a0bb4b23a0f8f3ae92a56f8a0ae3b7b34b9e5bd5f3e7f0c6ebf5fa14e2';
  const ids = chainIds([a, b]);
  assert.is(ids[0], a);
  assert.is(ids[1], sha256Digest(`${a} ${b}`));
  assert.is(chainIds([a, b, a])[2], sha256Digest(`${ids[1]} ${a}`));
  // A known vector, computed independently: printf '%s' 'sha256:aaa… sha256:bbb…' | sha256sum
  const x = `sha256:${'a'.repeat(64)}`;
  const y = `sha256:${'b'.repeat(64)}`;
  assert.is(chainIds([x, y])[1], 'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c');
  assert.equal(chainIds([]), []);
});

test('committing the same layer twice keeps one copy and removes the second work dir', async () => {
  const diffId = sha256Digest('layer one');
  const info = { diffId, chainId: diffId, parent: null, size: 10 };
  const first = await store.newLayerWorkDir();
  writeFileSync(join(first, 'diff', 'hello'), 'first');
  const second = await store.newLayerWorkDir();
  writeFileSync(join(second, 'diff', 'hello'), 'second');
  assert.ok(first.startsWith(join(store.root, 'tmp') + '/'));
  assert.match(first, new RegExp(`\\.${process.pid}\\.\\d+$`));
  assert.is(await store.commitLayer(first, info), 'committed');
  assert.is(await store.commitLayer(second, info), 'exists');
  assert.equal(readdirSync(join(store.root, 'layers')), [diffId.slice(7)]);
  assert.is(readFileSync(join(store.layerPath(diffId), 'hello'), 'utf8'), 'first');
  assert.not.ok(existsSync(second));
  assert.equal(readdirSync(join(store.root, 'tmp')), []);
  assert.ok(await store.hasLayer(diffId));
  assert.equal(await store.readLayer(diffId), info);
});

test('a layer is refused when its parent is missing or its chain id does not follow', async () => {
  const [l0, l1] = [sha256Digest('0'), sha256Digest('1')];
  const [c0, c1] = chainIds([l0, l1]);
  const work = await store.newLayerWorkDir();
  const missing = await store.commitLayer(work, { diffId: l1, chainId: c1!, parent: c0!, size: 1 }).catch((e: unknown) => e);
  assert.instance(missing, LayerNotFoundError);
  const wrong = await store.commitLayer(work, { diffId: l1, chainId: l1, parent: c0!, size: 1 }).catch((e: unknown) => e);
  assert.match((wrong as Error).message, 'chain id does not follow');
  assert.not.ok(await store.hasLayer(c1!));
});

test('readLayer of an unknown chain id says layer not known', async () => {
  const id = sha256Digest('nothing');
  const err = await store.readLayer(id).catch((e: unknown) => e);
  assert.instance(err, LayerNotFoundError);
  assert.is((err as Error).message, `${id}: layer not known`);
});

test('blobs are verified on write and read back', async () => {
  const bytes = Buffer.from('{"config":1}');
  const digest = sha256Digest(bytes);
  const err = await store.writeBlob(sha256Digest('other'), bytes).catch((e: unknown) => e);
  assert.match((err as Error).message, 'content has digest');
  assert.not.ok(await store.hasBlob(sha256Digest('other')));
  await store.writeBlob(digest, bytes);
  await store.writeBlob(digest, bytes);
  assert.ok(await store.hasBlob(digest));
  assert.equal(await store.readBlob(digest), bytes);
  writeFileSync(join(store.root, 'blobs', 'sha256', digest.slice(7)), 'tampered');
  assert.match(((await store.readBlob(digest).catch((e: unknown) => e)) as Error).message, 'is corrupt');
});

test.run();
