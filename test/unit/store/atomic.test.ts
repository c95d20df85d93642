import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitDirectory, writeFileAtomic } from '../../../core/store/atomic.js';

let dir = '';
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-atomic-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('writeFileAtomic replaces the file whole and leaves no temp file beside it', async () => {
  const path = join(dir, 'image.json');
  await writeFileAtomic(path, 'old');
  await writeFileAtomic(path, 'new content', 0o600);
  assert.is(readFileSync(path, 'utf8'), 'new content');
  assert.is(statSync(path).mode & 0o777, 0o600);
  assert.equal(readdirSync(dir), ['image.json']);
});

test('writeFileAtomic into a missing directory fails and leaves nothing behind', async () => {
  const err = await writeFileAtomic(join(dir, 'nope', 'x'), 'data').catch((e: unknown) => e);
  assert.is((err as NodeJS.ErrnoException).code, 'ENOENT');
  assert.equal(readdirSync(dir), []);
});

test('concurrent atomic writes of one file each land whole', async () => {
  const path = join(dir, 'f');
  const values = Array.from({ length: 20 }, (_, i) => String(i).repeat(10_000));
  await Promise.all(values.map((v) => writeFileAtomic(path, v)));
  assert.ok(values.includes(readFileSync(path, 'utf8')));
  assert.equal(readdirSync(dir), ['f']);
});

test('commitDirectory reports exists when another copy was committed first and keeps the first', async () => {
  const first = join(dir, 'work1');
  const second = join(dir, 'work2');
  for (const [d, content] of [[first, 'one'], [second, 'two']] as const) {
    mkdirSync(d);
    writeFileSync(join(d, 'file'), content);
  }
  assert.is(await commitDirectory(first, join(dir, 'final')), 'committed');
  assert.is(await commitDirectory(second, join(dir, 'final')), 'exists');
  assert.is(readFileSync(join(dir, 'final', 'file'), 'utf8'), 'one');
  assert.equal(readdirSync(dir).sort(), ['final', 'work2']);
});

test.run();
