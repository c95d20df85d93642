import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initStore, type ImageStore } from '../../../core/store/index.js';
import { processStartTime } from '../../../core/store/owner.js';
import { withTimeout } from '../../lib/timeout.js';
import { addFakeImage, TEST_MAPPING } from './fixtures.js';

let dir = '';
let store: ImageStore;
test.before.each(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-sweep-'));
  store = await initStore(TEST_MAPPING, { root: join(dir, 'store') });
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

/** The pid and start time of a process that has exited. */
async function deadOwner(): Promise<string> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
  const start = processStartTime(child.pid!);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await withTimeout(exited, 5_000, 'the child to exit');
  return `${child.pid}.${start}`;
}

test('sweepTmp removes entries of dead owners and leaves live owners and resumable downloads alone', async () => {
  const dead = await deadOwner();
  const tmp = join(store.root, 'tmp');
  const downloads = join(store.root, 'downloads');
  const live = await store.newLayerWorkDir();
  writeFileSync(join(live, 'diff', 'f'), 'x');
  mkdirSync(join(tmp, `layer-abc.${dead}`, 'diff'), { recursive: true });
  writeFileSync(join(tmp, `layer-abc.${dead}`, 'diff', 'f'), 'x');
  writeFileSync(join(downloads, `${'a'.repeat(64)}.${dead}`), 'partial');
  writeFileSync(join(downloads, `${'b'.repeat(64)}.partial`), 'resumable');
  writeFileSync(join(store.root, `.storage.json.tmp-3.${dead}`), '{');
  const { removed, failed } = await store.sweepTmp();
  assert.equal(failed, []);
  assert.is(removed.length, 3);
  assert.equal(readdirSync(tmp), [live.slice(tmp.length + 1)]);
  assert.equal(readdirSync(downloads), [`${'b'.repeat(64)}.partial`]);
  assert.not.ok(existsSync(join(store.root, `.storage.json.tmp-3.${dead}`)));
});

test('removeUnusedLayers keeps the layers of images and of live holds and removes the rest', async () => {
  const kept = await addFakeImage(store, { names: ['localhost/kept:1'], layers: ['base', 'kept'] });
  const gone = await addFakeImage(store, { names: ['localhost/gone:1'], layers: ['base', 'gone', 'gone2'] });
  const held = await addFakeImage(store, { names: ['localhost/held:1'], layers: ['held'] });
  const release = await store.holdLayers(held.layers);
  await store.removeImage(gone.id);
  await store.removeImage(held.id);
  const removed = await store.removeUnusedLayers();
  assert.equal(removed.sort(), gone.layers.slice(1).sort());
  assert.equal((await store.listLayers()).sort(), [...kept.layers, ...held.layers].sort());
  await release();
  assert.equal(await store.removeUnusedLayers(), held.layers);
  assert.equal((await store.listLayers()).sort(), [...kept.layers].sort());
  assert.equal(readdirSync(join(store.root, 'tmp')), [], 'removal leaves nothing in tmp/');
});

test('a store with leftover tmp dirs and a missing layer still lists, and repair removes only the broken image', async () => {
  const good = await addFakeImage(store, { names: ['localhost/good:1'], layers: ['good'] });
  const broken = await addFakeImage(store, { names: ['localhost/broken:1'], layers: ['good', 'lost'] });
  rmSync(join(store.root, 'layers', broken.layers[1]!.slice(7)), { recursive: true });
  mkdirSync(join(store.root, 'tmp', 'layer-zzz.1.1', 'diff'), { recursive: true });
  mkdirSync(join(store.root, 'layers', 'f'.repeat(64)));
  mkdirSync(join(store.root, 'images', 'e'.repeat(64)));
  const listed = await store.listImages();
  assert.equal(listed.map((i) => i.id).sort(), [good.id, broken.id].sort());
  assert.is((await store.findImage('localhost/good:1')).id, good.id);
  const report = await store.repair();
  assert.equal(report.images.map((i) => i.id).sort(), [broken.id, 'e'.repeat(64)].sort());
  assert.ok(report.images.find((i) => i.id === broken.id)!.reason.includes(broken.layers[1]!));
  assert.equal(report.layers, [`sha256:${'f'.repeat(64)}`]);
  assert.equal((await store.listImages()).map((i) => i.id), [good.id]);
  assert.ok(await store.hasLayer(good.layers[0]!), 'the shared layer stays');
});

test.run();
