// The volume store on a private directory: layout, errors, removal of data
// the user cannot delete outside the user namespace, leftovers of a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoSuchVolumeError, VolumeExistsError, VolumeStore, volumeRecord } from '../../../core/volume/volumes.js';
import { InvalidVolumeNameError } from '../../../core/volume/names.js';

let dir = '';
let store: VolumeStore;
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-volumes-'));
  store = new VolumeStore(join(dir, 'volumes'));
});
test.after.each(() => {
  // A test may leave a read-only directory behind when it fails.
  for (const d of [dir, join(dir, 'volumes')]) if (existsSync(d)) chmodSync(d, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

test('create lays out volume.json and a 0755 _data, and inspect reads it back', async () => {
  const made = await store.create({ name: 'data', labels: { app: 'db' } });
  const path = join(dir, 'volumes', 'data');
  assert.equal(readdirSync(path).sort(), ['_data', 'volume.json']);
  assert.is(statSync(join(path, '_data')).mode & 0o777, 0o755);
  const file = JSON.parse(readFileSync(join(path, 'volume.json'), 'utf8'));
  assert.is(file.Name, 'data');
  assert.is(file.Driver, 'local');
  assert.is(file.Scope, 'local');
  assert.is(file.Mountpoint, join(path, '_data'));
  assert.equal(file.Labels, { app: 'db' });
  assert.ok(!Number.isNaN(Date.parse(file.CreatedAt)));
  const seen = await store.inspect('data');
  assert.equal(seen, made);
  assert.equal(Object.keys(volumeRecord(seen)), ['Name', 'Driver', 'Mountpoint', 'CreatedAt', 'Labels', 'Scope', 'Options']);
  assert.equal(readdirSync(join(dir, 'volumes')), ['data']); // no temp left
});

test('a second create of one name fails with podman wording, and with ignoreExisting returns the first', async () => {
  const first = await store.create({ name: 'v1' });
  const err = await store.create({ name: 'v1' }).catch((e: unknown) => e);
  assert.instance(err, VolumeExistsError);
  assert.is((err as Error).message, 'volume with name v1 already exists: volume already exists');
  assert.equal(await store.create({ name: 'v1', ignoreExisting: true, labels: { new: 'x' } }), first);
});

test('parallel creates of one name: exactly one succeeds', async () => {
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.create({ name: 'race' })));
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal(readdirSync(join(dir, 'volumes')).filter((n) => !n.startsWith('.lock')), ['race']);
});

test('names podman refuses are refused; unknown and path-like names are not found', async () => {
  for (const name of ['', '-a', '.a', 'a/b', '../x', 'a b']) {
    const err = await store.create({ name }).catch((e: unknown) => e);
    assert.instance(err, InvalidVolumeNameError, name);
  }
  const err = await store.inspect('../volumes').catch((e: unknown) => e);
  assert.instance(err, NoSuchVolumeError);
  assert.is((err as Error).message, 'no volume with name "../volumes" found: no such volume');
});

test('create without a name makes 64 hex digits; ensure makes on first use and finds after', async () => {
  const anon = await store.ensure(undefined);
  assert.match(anon.Name, /^[0-9a-f]{64}$/);
  assert.is(anon.anonymous, true);
  const named = await store.ensure('cache');
  assert.is(named.anonymous, false);
  assert.equal(await store.ensure('cache'), named);
  assert.equal((await store.list()).map((v) => v.Name), [anon.Name, 'cache'].sort());
});

test('remove deletes the volume; a missing one is NoSuchVolume', async () => {
  await store.create({ name: 'gone' });
  await store.remove('gone');
  assert.equal(await store.list(), []);
  assert.equal(readdirSync(join(dir, 'volumes')).filter((n) => !n.startsWith('.lock')), []);
  const err = await store.remove('gone').catch((e: unknown) => e);
  assert.instance(err, NoSuchVolumeError);
});

test('remove falls back to the user namespace for data the user cannot delete outside it', async () => {
  const volume = await store.create({ name: 'locked' });
  const sub = join(volume.Mountpoint, 'sub');
  mkdirSync(sub);
  writeFileSync(join(sub, 'file'), 'x');
  chmodSync(sub, 0o555); // as a container's files would be: not writable by the user outside
  await store.remove('locked');
  assert.is(existsSync(join(dir, 'volumes', 'locked')), false);
  assert.equal(readdirSync(join(dir, 'volumes')).filter((n) => !n.startsWith('.lock')), []);
});

test('prune removes every unused volume and what a dead tsbox left half done', async () => {
  await store.create({ name: 'a' });
  await store.create({ name: 'b' });
  const leftover = join(dir, 'volumes', '.c.tmp-1.999999999.1');
  mkdirSync(join(leftover, '_data'), { recursive: true });
  assert.equal((await store.list()).map((v) => v.Name), ['a', 'b']); // listings skip leftovers
  assert.equal(await store.prune(), ['a', 'b']);
  assert.equal(readdirSync(join(dir, 'volumes')).filter((n) => !n.startsWith('.lock')), []);
  assert.equal(await store.prune(), []);
});

test('list of a store that has no volumes directory yet is empty', async () => {
  assert.equal(await store.list(), []);
});

test.run();
