// The container store: directories, names claimed once (also by racing
// processes' worth of parallel creates), stale claims taken over, removal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerStore, NameInUseError, newContainerId } from '../../../core/runtime/containers.js';
import { buildSpec, type ContainerRecord } from '../../../core/runtime/spec.js';

const LAYER = `sha256:${'1'.repeat(64)}`;

function record(name = ''): ContainerRecord {
  const id = newContainerId();
  return {
    Id: id,
    Name: name,
    Image: 'a'.repeat(64),
    ImageName: 'docker.io/library/alpine:latest',
    Created: new Date().toISOString(),
    State: 'created',
    Spec: buildSpec({ rootfs: { type: 'layers', diff_ids: [LAYER] } }, { id, command: ['sh'], layers: [LAYER] }),
  };
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

let root: string;
test.before.each(() => {
  root = mkdtempSync(join(tmpdir(), 'tsbox-containers-'));
});
test.after.each(() => {
  rmSync(root, { recursive: true, force: true });
});

test('ids are 64 hex; create makes the directories and config.json', async () => {
  assert.match(newContainerId(), /^[0-9a-f]{64}$/);
  const store = new ContainerStore(root);
  const { record: stored, paths } = await store.create(record('web'));
  for (const dir of [paths.userdata, paths.upper, paths.work, paths.merged]) assert.ok(existsSync(dir), dir);
  assert.is(JSON.parse(readFileSync(paths.config, 'utf8')).Name, 'web');
  assert.is(stored.Name, 'web');
  assert.equal((await store.list()).map((r) => r.Id), [stored.Id]);
});

test('a random adjective_surname name when none is given', async () => {
  const { record: stored } = await new ContainerStore(root).create(record());
  assert.match(stored.Name, /^[a-z]+_[a-z]+$/);
});

test('a name in use is refused with podman\'s wording; invalid names too', async () => {
  const store = new ContainerStore(root);
  const first = await store.create(record('db'));
  try {
    await store.create(record('db'));
    assert.unreachable('the second create should fail');
  } catch (err) {
    assert.instance(err, NameInUseError);
    assert.is(
      (err as Error).message,
      `the container name "db" is already in use by ${first.record.Id}. You have to remove that container to be able to reuse that name: that name is already in use`,
    );
  }
  await rejects(store.create(record('-bad')), /invalid container name "-bad"/);
  await rejects(store.create(record('a/b')), /invalid container name/);
});

test('parallel creates with one name: exactly one wins', async () => {
  const store = new ContainerStore(root);
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.create(record('same'))));
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.is(readdirSync(join(root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)).length, 1);
});

test('a claim whose container is gone (a crash) is taken over; remove frees the name', async () => {
  const store = new ContainerStore(root);
  const crashed = await store.create(record('job'));
  rmSync(crashed.paths.dir, { recursive: true }); // as if killed between claim and removal
  const again = await store.create(record('job'));
  assert.is(again.record.Name, 'job');
  await store.remove(again.record.Id, (dir) => rm(dir, { recursive: true }));
  assert.not.ok(existsSync(again.paths.dir));
  assert.equal(readdirSync(join(root, 'containers', 'names')), []);
  await rejects(store.remove(again.record.Id, async () => {}), /no such container/);
});

test('volumesInUse: named volumes bound from <volumes>/<name>/_data, with their containers', async () => {
  const store = new ContainerStore(root);
  const volumes = join(root, 'volumes');
  const withMounts = (name: string, sources: string[]) => {
    const r = record(name);
    r.Spec.mounts.push(...sources.map((source, i) => ({ destination: `/m${i}`, type: 'bind', source, options: [] })));
    return r;
  };
  const a = await store.create(withMounts('a', [`${volumes}/data/_data`, '/host/dir', `${volumes}/cache/_data`]));
  const b = await store.create(withMounts('b', [`${volumes}/data/_data`, `${volumes}/data/_data/sub`]));
  const used = await store.volumesInUse(volumes);
  assert.equal([...used.keys()].sort(), ['cache', 'data']);
  assert.equal(used.get('data')!.sort(), [a.record.Id, b.record.Id].sort());
  assert.equal(used.get('cache'), [a.record.Id]);
});

test('sweepIncomplete: a store with no containers directory has nothing to sweep; a directory without config.json and stale claims go, containers stay', async () => {
  assert.equal(await new ContainerStore(join(root, 'never-used')).sweepIncomplete(async () => {}), []);
  assert.not.ok(existsSync(join(root, 'never-used')), 'nothing created');
  const store = new ContainerStore(root);
  const { record: kept } = await store.create(record('kept'));
  const { record: half } = await store.create(record('half'));
  // as a removal killed after deleting config.json leaves it
  await rm(store.paths(half.Id).config);
  const removed: string[] = [];
  const swept = await store.sweepIncomplete(async (dir) => {
    removed.push(dir);
    await rm(dir, { recursive: true, force: true });
  });
  assert.equal(swept, [half.Id]);
  assert.equal(removed, [store.paths(half.Id).dir]);
  assert.ok(existsSync(store.paths(kept.Id).config));
  assert.equal(readdirSync(join(root, 'containers', 'names')), ['kept']);
});

test('a --rm record (not durable) reads back the same', async () => {
  const store = new ContainerStore(root);
  const { record: stored } = await store.create(record('quick'), { durable: false });
  assert.equal(await store.read(stored.Id), stored);
});

test.run();
