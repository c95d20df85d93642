import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initStore,
  openStore,
  AmbiguousImageError,
  ImageNotFoundError,
  LayerNotFoundError,
  MappingChangedError,
  type ImageStore,
} from '../../../core/store/index.js';
import { addFakeImage, TEST_MAPPING } from './fixtures.js';

let dir = '';
let store: ImageStore;
test.before.each(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-images-'));
  store = await initStore(TEST_MAPPING, { root: join(dir, 'store') });
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('committing an image with a name another image has moves the name, leaving the other dangling', async () => {
  const old = await addFakeImage(store, { names: ['docker.io/library/alpine:latest'], layers: ['base'] });
  const fresh = await addFakeImage(store, { names: ['docker.io/library/alpine:latest', 'docker.io/library/alpine:3'], layers: ['base', 'more'] });
  assert.equal((await store.readImage(old.id))!.names, []);
  assert.equal((await store.readImage(fresh.id))!.names.sort(), ['docker.io/library/alpine:3', 'docker.io/library/alpine:latest']);
  assert.is((await store.findImage('alpine')).id, fresh.id);
  assert.is((await store.listImages()).length, 2, 'the old image stays, as <none>');
});

test('committing the same image again keeps its earlier names', async () => {
  const first = await addFakeImage(store, { names: ['docker.io/library/alpine:latest'], layers: ['base'] });
  const again = await addFakeImage(store, { names: ['localhost/mine:1'], layers: ['base'] });
  assert.is(again.id, first.id);
  assert.equal(again.names.sort(), ['docker.io/library/alpine:latest', 'localhost/mine:1']);
});

test('an image whose layer is missing is refused', async () => {
  const image = await addFakeImage(store, { names: ['localhost/a:1'], layers: ['x'] });
  const err = await store
    .commitImage({ ...image, id: 'f'.repeat(64), configDigest: `sha256:${'f'.repeat(64)}`, layers: [`sha256:${'e'.repeat(64)}`] })
    .catch((e: unknown) => e);
  assert.instance(err, LayerNotFoundError);
  assert.is(await store.readImage('f'.repeat(64)), undefined);
});

test('findImage resolves full names, short names, name@digest, ids and id prefixes', async () => {
  const hub = await addFakeImage(store, { names: ['docker.io/library/alpine:latest'], layers: ['hub'] });
  const local = await addFakeImage(store, { names: ['localhost/alpine:latest', 'localhost/tool:2'], layers: ['local'] });
  const quay = await addFakeImage(store, { names: ['quay.io/team/app:v1'], layers: ['quay'] });
  assert.is((await store.findImage('docker.io/library/alpine:latest')).id, hub.id);
  assert.is((await store.findImage('alpine')).id, hub.id, 'a short name prefers docker.io');
  assert.is((await store.findImage('alpine:latest')).id, hub.id);
  assert.is((await store.findImage('localhost/alpine')).id, local.id);
  assert.is((await store.findImage('tool:2')).id, local.id, 'then localhost');
  assert.is((await store.findImage('team/app:v1')).id, quay.id, 'then any registry');
  assert.is((await store.findImage(`alpine@${hub.digest}`)).id, hub.id);
  assert.is((await store.findImage(`docker.io/library/alpine@${hub.digest}`)).id, hub.id);
  assert.is((await store.findImage(hub.id)).id, hub.id);
  assert.is((await store.findImage(`sha256:${hub.id}`)).id, hub.id);
  assert.is((await store.findImage(quay.id.slice(0, 12))).id, quay.id);
  for (const missing of ['nosuch', 'alpine:3', 'quay.io/team/app:v2', 'app:v1x', `alpine@sha256:${'0'.repeat(64)}`, 'ab']) {
    const err = await store.findImage(missing).catch((e: unknown) => e);
    assert.instance(err, ImageNotFoundError, missing);
    assert.is((err as Error).message, `${missing}: image not known`);
  }
});

test('an id prefix that matches two images is ambiguous, and fewer than 3 digits is no prefix', async () => {
  const base = await addFakeImage(store, { layers: ['shared'] });
  // Two records whose ids share the prefix abc (commitImage needs only the layers to exist).
  for (const id of ['abc1'.padEnd(64, '0'), 'abc2'.padEnd(64, '0')]) {
    await store.commitImage({ ...base, id, configDigest: `sha256:${id}`, names: [] });
  }
  const err = await store.findImage('abc').catch((e: unknown) => e);
  assert.instance(err, AmbiguousImageError);
  assert.is((err as Error).message, 'abc: image id prefix is ambiguous: it matches 2 images');
  assert.is((await store.findImage('abc2')).id, 'abc2'.padEnd(64, '0'));
  assert.instance(await store.findImage('ab').catch((e: unknown) => e), ImageNotFoundError);
});

test('tag moves a name between images and untag leaves a dangling image', async () => {
  const a = await addFakeImage(store, { names: ['localhost/a:1'], layers: ['a'] });
  const b = await addFakeImage(store, { names: ['localhost/b:1'], layers: ['b'] });
  await store.tagImage(a.id, 'localhost/shared:latest');
  await store.tagImage(b.id, 'localhost/shared:latest');
  assert.equal((await store.readImage(a.id))!.names, ['localhost/a:1']);
  assert.equal((await store.readImage(b.id))!.names, ['localhost/b:1', 'localhost/shared:latest']);
  assert.ok(await store.untagImage(a.id, 'localhost/a:1'));
  assert.not.ok(await store.untagImage(a.id, 'localhost/a:1'));
  assert.equal((await store.readImage(a.id))!.names, []);
  await store.removeImage(a.id);
  assert.is(await store.readImage(a.id), undefined);
  assert.equal(readdirSync(join(store.root, 'images')), [b.id]);
  assert.instance(await store.removeImage(a.id).catch((e: unknown) => e), ImageNotFoundError);
});

test('concurrent tags of one name from one process leave it on exactly one image', async () => {
  const images = [];
  for (let i = 0; i < 5; i++) images.push(await addFakeImage(store, { layers: [`c${i}`] }));
  await Promise.all(images.map((image) => store.tagImage(image.id, 'localhost/race:latest')));
  const holders = (await store.listImages()).filter((i) => i.names.includes('localhost/race:latest'));
  assert.is(holders.length, 1);
});

test('opening a store with another id mapping says to run system migrate', async () => {
  await addFakeImage(store, { layers: ['m'] });
  const other = { uids: [{ inside: 0, outside: 1001, count: 1 }, { inside: 1, outside: 200000, count: 65536 }], gids: TEST_MAPPING.gids };
  const err = await openStore({ root: store.root, mapping: other }).catch((e: unknown) => e);
  assert.instance(err, MappingChangedError);
  assert.is(
    (err as Error).message,
    'the subordinate id ranges changed since the store was created (was uids 0:1001:1 gids 0:1001:1, now uids 0:1001:1,1:200000:65536 gids 0:1001:1): run tsbox system migrate',
  );
  await openStore({ root: store.root, mapping: TEST_MAPPING });
  await openStore({ root: store.root });
});

test('a half-written image.json left by a kill cannot hide the other images', async () => {
  const good = await addFakeImage(store, { names: ['localhost/good:1'], layers: ['g'] });
  const broken = 'd'.repeat(64);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(store.root, 'images', broken));
  writeFileSync(join(store.root, 'images', broken, 'image.json'), '{"id": "dddd');
  writeFileSync(join(store.root, 'images', good.id, '.image.json.tmp-1.999999.1'), '{"half');
  assert.equal((await store.listImages()).map((i) => i.id), [good.id]);
});

test.run();
