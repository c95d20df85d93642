// The pure parts of `system df`, `system prune` and `system migrate`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, linkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockedError, planMigration, reownSegments } from '../../../core/system/migrate.js';
import { translateId } from '../../../core/system/ns-task.js';
import { dfReclaimable, dfSize, summarize, type DiskUsageReport } from '../../../core/system/df.js';
import { parsePruneFilters, passesFilters } from '../../../core/system/prune.js';
import { walkUsage } from '../../../core/system/usage.js';

const own = { inside: 0, outside: 1001, count: 1 };
const mapping = (...ranges: [number, number, number][]) => {
  const r = [own, ...ranges.map(([inside, outside, count]) => ({ inside, outside, count }))];
  return { uids: r, gids: r };
};

test('the same mapping needs nothing', () => {
  assert.equal(planMigration(mapping([1, 100000, 65536]), mapping([1, 100000, 65536])), { kind: 'current' });
});

test('an extended range or one added after it keeps every id where it was: re-record only', () => {
  assert.equal(planMigration(mapping([1, 100000, 65534]), mapping([1, 100000, 65536])).kind, 'rerecord');
  assert.equal(planMigration(mapping([1, 100000, 1000]), mapping([1, 100000, 1000], [1001, 300000, 5000])).kind, 'rerecord');
});

test('a moved start with the old ids still granted re-owns by offset', () => {
  // old: inside 1..65534 at 100000..; new: inside 1..65534 at 100002.., then 65535..65536 at 100000..100001
  const plan = planMigration(mapping([1, 100000, 65534]), mapping([1, 100002, 65534], [65535, 100000, 2]));
  assert.is(plan.kind, 'reown');
  if (plan.kind !== 'reown') return;
  // namespace ids of the new mapping: host 100000..100001 are 65535..65536 there (old inside 1..2);
  // host 100002..165533 are 1..65532 there (old inside 3..65534)
  assert.equal(plan.uids, [
    { from: 1, to: 3, count: 65532 },
    { from: 65535, to: 1, count: 2 },
  ]);
  // old inside 1000 was host 100999, seen as 998 in the new namespace: it becomes 1000 again
  assert.is(translateId(plan.uids, 998), 1000);
  assert.is(translateId(plan.uids, 65535), 1);
  assert.is(translateId(plan.uids, 0), 0, 'the own id stays');
  assert.is(translateId(plan.uids, 65536), 2);
  assert.is(translateId(plan.uids, 70000), 70000, 'ids outside the old ranges stay');
});

test('old ranges no longer granted block the migration, naming them and the usermod fix', () => {
  const plan = planMigration(mapping([1, 100000, 65536]), mapping([1, 200000, 65536]));
  assert.is(plan.kind, 'blocked');
  if (plan.kind !== 'blocked') return;
  assert.equal(plan.missing.uids, [{ first: 100000, last: 165535 }]);
  const err = blockedError(plan, 'alice', { subuid: '/etc/subuid', subgid: '/etc/subgid' });
  assert.match(err.message, 'uids 100000-165535 and gids 100000-165535, which are no longer granted to alice');
  assert.match(err.hint ?? '', 'sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice');
  assert.match(err.hint ?? '', 'tsbox system reset');
  assert.is(err.exitCode, 125);
});

test('a single id no longer granted is named as one id, and usermod still gets a range', () => {
  const plan = planMigration(mapping([1, 100000, 65536]), mapping([1, 100000, 65535]));
  assert.is(plan.kind, 'blocked');
  if (plan.kind !== 'blocked') return;
  const err = blockedError(plan, 'alice', { subuid: '/etc/subuid', subgid: '/etc/subgid' });
  assert.match(err.message, 'uids 165535 and gids 165535, which are no longer granted to alice');
  assert.match(err.hint ?? '', 'sudo usermod --add-subuids 165535-165535 --add-subgids 165535-165535 alice');
});

test('a partly kept range reports only the part that is gone', () => {
  const plan = planMigration(mapping([1, 100000, 65536]), mapping([1, 130000, 65536]));
  assert.is(plan.kind, 'blocked');
  if (plan.kind === 'blocked') assert.equal(plan.missing.uids, [{ first: 100000, last: 129999 }]);
});

test('fewer ids than the old mapping had block the migration', () => {
  const plan = planMigration(mapping([1, 100000, 65536]), mapping([1, 100000, 1000], [1001, 101000, 100]));
  assert.is(plan.kind, 'blocked');
});

test('reownSegments leaves identical pieces out', () => {
  assert.equal(reownSegments(mapping([1, 100000, 10]).uids, mapping([1, 100000, 5], [6, 200000, 5], [11, 100005, 5]).uids), [
    { from: 11, to: 6, count: 5 },
  ]);
});

test('df sizes as go-units HumanSize prints them', () => {
  assert.is(dfSize(0), '0B');
  assert.is(dfSize(12), '12B');
  assert.is(dfSize(2_038_000), '2.038MB');
  assert.is(dfSize(281_000_000), '281MB');
  assert.is(dfSize(5_520), '5.52kB');
});

test('the summary counts active and reclaimable as podman does', () => {
  const report: DiskUsageReport = {
    images: [
      { id: 'a', name: 'x:latest', created: '', size: 100, sharedSize: 40, uniqueSize: 60, containers: 2 },
      { id: 'b', name: undefined, created: '', size: 70, sharedSize: 40, uniqueSize: 30, containers: 0 },
    ],
    imagesSize: 130,
    imagesReclaimable: 30,
    containers: [
      { id: 'c1', imageId: 'a', command: 'sleep 1', localVolumes: 1, size: 10, created: '', status: 'running', running: true, name: 'one' },
      { id: 'c2', imageId: 'a', command: 'true', localVolumes: 0, size: 5, created: '', status: 'exited', running: false, name: 'two' },
    ],
    volumes: [
      { name: 'v1', links: 1, size: 8 },
      { name: 'v2', links: 0, size: 2 },
    ],
  };
  const [images, containers, volumes] = summarize(report);
  assert.equal(images, { Type: 'Images', Total: 2, Active: 1, RawSize: 130, RawReclaimable: 30 });
  assert.equal(containers, { Type: 'Containers', Total: 2, Active: 1, RawSize: 15, RawReclaimable: 5 });
  assert.equal(volumes, { Type: 'Local Volumes', Total: 2, Active: 1, RawSize: 10, RawReclaimable: 2 });
  assert.is(dfReclaimable(images!), '30B (23%)');
  assert.is(dfReclaimable({ Type: 'Containers', Total: 0, Active: 0, RawSize: 0, RawReclaimable: 0 }), '0B (0%)');
});

test('prune filters: until, label and label!', async () => {
  const filters = await parsePruneFilters(['until=2024-01-01T00:00:00Z', 'label=app', 'label!=keep=yes']);
  assert.ok(passesFilters(filters, '2023-06-01T00:00:00Z', { app: 'web' }));
  assert.not.ok(passesFilters(filters, '2024-06-01T00:00:00Z', { app: 'web' }), 'too new');
  assert.not.ok(passesFilters(filters, '2023-06-01T00:00:00Z', {}), 'no label app');
  assert.not.ok(passesFilters(filters, '2023-06-01T00:00:00Z', { app: 'web', keep: 'yes' }), 'label!= matches');
  const recent = await parsePruneFilters(['until=1h']);
  assert.ok(passesFilters(recent, new Date(Date.now() - 2 * 3600_000).toISOString(), {}));
  assert.not.ok(passesFilters(recent, new Date().toISOString(), {}));
  try {
    await parsePruneFilters(['name=x']);
    assert.unreachable('name= is not a prune filter');
  } catch (err) {
    assert.match((err as Error).message, '"name=x" is an invalid filter');
  }
});

test('disk usage counts blocks, each inode once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-du-'));
  try {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'a'), Buffer.alloc(100_000, 1));
    linkSync(join(dir, 'sub', 'a'), join(dir, 'b'));
    const blocks = (p: string) => statSync(p).blocks * 512;
    const expected = blocks(dir) + blocks(join(dir, 'sub')) + blocks(join(dir, 'sub', 'a'));
    const walked = walkUsage(dir);
    assert.is(walked.bytes, expected);
    assert.equal(walked.unreadable, []);
    assert.is(walkUsage(join(dir, 'absent')).bytes, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
