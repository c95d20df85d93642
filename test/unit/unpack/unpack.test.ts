// unpackLayer on real tar streams into real directories, as the user running
// the test (owners are left alone here: ownership.test.ts covers them inside
// a user namespace).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { unpackLayer, LayerCorruptError, type UnpackResult } from '../../../core/unpack/unpack.js';
import { withTimeout } from '../../lib/timeout.js';
import {
  HELPER,
  MTIME,
  buildTar,
  gzip,
  noise,
  recordingReporter,
  sha256,
  sha256sum,
  streamOf,
  workArea,
  zstd,
  type LayerEntry,
  type RecordingReporter,
} from './layers.js';

let area: ReturnType<typeof workArea>;
let savedUmask = 0;

test.before.each(() => {
  area = workArea('tree');
  savedUmask = process.umask(0o022);
});

test.after.each(() => {
  process.umask(savedUmask);
  area.cleanup();
});

async function unpack(data: Buffer, reporter: RecordingReporter = recordingReporter(), dest = area.dest): Promise<UnpackResult> {
  return withTimeout(
    unpackLayer(streamOf(data), { destination: dest, canChown: false, reporter, helper: HELPER, layerDigest: 'sha256:test' }),
    60_000,
    'unpackLayer',
  );
}

const BIG = noise(3 * 1024 * 1024 + 17, 7);

const TREE: LayerEntry[] = [
  { name: './', type: 'directory', mode: 0o755 },
  { name: './etc/', type: 'directory', mode: 0o755 },
  { name: './etc/hostname', content: 'box\n', mode: 0o644 },
  { name: './usr/bin/', type: 'directory', mode: 0o755 },
  { name: './usr/bin/su', content: '#!/bin/sh\n', mode: 0o4755 },
  { name: './usr/bin/wall', content: 'wall', mode: 0o2711 },
  { name: './tmp/', type: 'directory', mode: 0o1777 },
  { name: './usr/bin/sh', type: 'symlink', linkname: 'busybox', mtime: new Date(1_600_000_000_000) },
  { name: './usr/bin/busybox', content: BIG, mode: 0o755 },
  { name: './usr/bin/ash', type: 'link', linkname: 'usr/bin/busybox' },
  { name: './usr/lib/empty', content: '', mode: 0o600 },
  { name: './readonly/', type: 'directory', mode: 0o555 },
  { name: './readonly/inside', content: 'still written\n', mode: 0o444 },
];

test('a plain tar layer becomes the tree it describes, with modes, links and times', async () => {
  const layer = await buildTar(TREE);
  const result = await unpack(layer);
  const d = area.dest;
  assert.is(readFileSync(join(d, 'etc/hostname'), 'utf8'), 'box\n');
  assert.is(statSync(join(d, 'usr/bin/su')).mode & 0o7777, 0o4755);
  assert.is(statSync(join(d, 'usr/bin/wall')).mode & 0o7777, 0o2711);
  assert.is(statSync(join(d, 'tmp')).mode & 0o7777, 0o1777);
  assert.is(statSync(join(d, 'readonly')).mode & 0o7777, 0o555);
  assert.is(readFileSync(join(d, 'readonly/inside'), 'utf8'), 'still written\n');
  assert.is(statSync(join(d, 'usr/lib/empty')).size, 0);
  assert.is(statSync(join(d, 'usr/lib/empty')).mode & 0o7777, 0o600);
  assert.ok(lstatSync(join(d, 'usr/bin/sh')).isSymbolicLink());
  assert.is(readlinkSync(join(d, 'usr/bin/sh')), 'busybox');
  assert.is(sha256(readFileSync(join(d, 'usr/bin/busybox'))), sha256(BIG));
  assert.is(statSync(join(d, 'usr/bin/ash')).ino, statSync(join(d, 'usr/bin/busybox')).ino);
  assert.is(statSync(join(d, 'usr/bin/busybox')).nlink, 2);
  assert.is(result.diffId, sha256sum(layer));
  assert.is(result.size, 4 + 10 + 4 + BIG.length + 0 + 14);
});

test('times are the headers\', directories\' included, whatever was created in them later', async () => {
  const layer = await buildTar(TREE);
  await unpack(layer);
  const d = area.dest;
  for (const path of ['', 'etc', 'usr/bin', 'readonly', 'etc/hostname', 'usr/bin/busybox', 'usr/bin/su']) {
    assert.is(statSync(join(d, path)).mtimeMs, MTIME.getTime(), `mtime of /${path}`);
  }
  assert.is(lstatSync(join(d, 'usr/bin/sh')).mtimeMs, 1_600_000_000_000, 'a symlink\'s own mtime');
});

test('gzip, zstd and plain tar give the same tree and the same diff id', async () => {
  const layer = await buildTar(TREE);
  const expected = sha256sum(layer);
  const trees: string[] = [];
  for (const [what, data] of [
    ['plain', layer],
    ['gzip', gzip(layer)],
    ['zstd', zstd(layer)],
  ] as const) {
    const dest = join(area.base, what);
    spawnSync('mkdir', [dest]);
    const result = await unpack(data, recordingReporter(), dest);
    assert.is(result.diffId, expected, `${what} diff id`);
    // usr/ and usr/lib/ have no header: they get the time they were made.
    trees.push(describeTree(dest, ['usr', 'usr/lib']));
  }
  assert.is(trees[1], trees[0]);
  assert.is(trees[2], trees[0]);
  assert.match(trees[0]!, /usr\/bin\/busybox f 755 3145745/);
});

test('a zstd layer of several frames and large files decodes in full', async () => {
  const first = await buildTar([{ name: 'a/big', content: noise(5 * 1024 * 1024, 3) }]);
  // Two frames back to back are one valid zstd stream; the tar ends only in the second.
  const layer = await buildTar([
    { name: 'a/big', content: noise(5 * 1024 * 1024, 3) },
    { name: 'a/zeros', content: Buffer.alloc(8 * 1024 * 1024) },
  ]);
  const split = first.length - 1024;
  const data = Buffer.concat([zstd(layer.subarray(0, split)), zstd(layer.subarray(split))]);
  const result = await unpack(data);
  assert.is(result.diffId, sha256sum(layer));
  assert.is(sha256(readFileSync(join(area.dest, 'a/big'))), sha256(noise(5 * 1024 * 1024, 3)));
  assert.is(sha256(readFileSync(join(area.dest, 'a/zeros'))), sha256(Buffer.alloc(8 * 1024 * 1024)));
});

test('whiteouts become character devices 0:0 and opaque markers the overlay xattr', async () => {
  const layer = await buildTar([
    { name: 'etc/', type: 'directory', mtime: MTIME },
    { name: 'etc/.wh.motd' },
    { name: 'var/cache/.wh..wh..opq' },
    { name: 'var/cache/fresh', content: 'new' },
    { name: '.wh.home' },
  ]);
  const result = await unpack(layer);
  const d = area.dest;
  for (const path of ['etc/motd', 'home']) {
    const st = lstatSync(join(d, path));
    assert.ok(st.isCharacterDevice(), `${path} is a character device`);
    assert.is(st.rdev, 0, `${path} is 0:0`);
  }
  assert.not.ok(existsSync(join(d, 'etc/.wh.motd')));
  assert.not.ok(existsSync(join(d, '.wh.home')));
  assert.not.ok(existsSync(join(d, 'var/cache/.wh..wh..opq')));
  assert.is(getXattr(join(d, 'var/cache'), 'user.overlay.opaque'), 'y');
  assert.is(readFileSync(join(d, 'var/cache/fresh'), 'utf8'), 'new');
  assert.is(statSync(join(d, 'etc')).mtimeMs, MTIME.getTime(), 'a whiteout made in etc/ leaves its mtime');
  assert.is(result.diffId, sha256sum(layer));
});

test('a whiteout hides lower layers only: an entry of the same layer stays, in either order', async () => {
  const layer = await buildTar([
    { name: 'a', content: 'file before its whiteout' },
    { name: '.wh.a' },
    { name: '.wh.b' },
    { name: 'b', content: 'file after its whiteout' },
    { name: '.wh.c' },
    { name: 'c/', type: 'directory' },
    { name: 'c/kept', content: 'x' },
  ]);
  await unpack(layer);
  const d = area.dest;
  assert.is(readFileSync(join(d, 'a'), 'utf8'), 'file before its whiteout');
  assert.is(readFileSync(join(d, 'b'), 'utf8'), 'file after its whiteout');
  assert.ok(statSync(join(d, 'c')).isDirectory());
  // c was deleted below and made anew here: nothing from below may show through.
  assert.is(getXattr(join(d, 'c'), 'user.overlay.opaque'), 'y');
  assert.equal(readdirSync(d).sort(), ['a', 'b', 'c']);
});

test('user.* xattrs from pax records are set; others are skipped', async () => {
  const layer = await buildTar([
    { name: 'f', content: 'x', pax: { 'SCHILY.xattr.user.note': 'hello', 'SCHILY.xattr.security.capability': 'cap' } },
    { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.user.dir': 'yes' } },
  ]);
  const reporter = recordingReporter();
  await unpack(layer, reporter);
  assert.is(getXattr(join(area.dest, 'f'), 'user.note'), 'hello');
  assert.is(getXattr(join(area.dest, 'd'), 'user.dir'), 'yes');
  assert.is(getXattr(join(area.dest, 'f'), 'security.capability'), undefined);
  assert.ok(reporter.debugs.some((m) => m.includes('security.capability')));
});

test('fifos are made with their mode and time; device nodes are skipped with one warning', async () => {
  const layer = await buildTar([
    { name: 'run/ctl', type: 'fifo', mode: 0o620 },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/zero', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o666 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 },
  ]);
  const reporter = recordingReporter();
  await unpack(layer, reporter);
  const fifo = lstatSync(join(area.dest, 'run/ctl'));
  assert.ok(fifo.isFIFO());
  assert.is(fifo.mode & 0o7777, 0o620);
  assert.is(fifo.mtimeMs, MTIME.getTime());
  assert.equal(readdirSync(join(area.dest, 'dev')), []);
  assert.equal(reporter.warnings, [
    'layer sha256:test: skipped 3 device nodes (/dev/null…): rootless containers cannot create them',
  ]);
});

test('a later entry replaces an earlier one: file over directory, directory over symlink, file over file', async () => {
  const layer = await buildTar([
    { name: 'a/', type: 'directory' },
    { name: 'a/child', content: 'gone' },
    { name: 'a', content: 'now a file' },
    { name: 'b', type: 'symlink', linkname: '../outside' },
    { name: 'b/', type: 'directory', mode: 0o700 },
    { name: 'b/inside', content: 'in a real directory' },
    { name: 'c', content: 'first' },
    { name: 'c', content: 'second', mode: 0o600 },
    { name: 'e/', type: 'directory', mode: 0o700 },
    { name: 'e/kept', content: 'kept' },
    { name: 'e/', type: 'directory', mode: 0o750 },
  ]);
  await unpack(layer);
  const d = area.dest;
  assert.is(readFileSync(join(d, 'a'), 'utf8'), 'now a file');
  assert.ok(lstatSync(join(d, 'b')).isDirectory());
  assert.is(readFileSync(join(d, 'b/inside'), 'utf8'), 'in a real directory');
  assert.equal(readdirSync(area.outside), ['sentinel']);
  assert.is(readFileSync(join(d, 'c'), 'utf8'), 'second');
  assert.is(statSync(join(d, 'c')).mode & 0o7777, 0o600);
  assert.is(readFileSync(join(d, 'e/kept'), 'utf8'), 'kept', 'a directory over a directory keeps its contents');
  assert.is(statSync(join(d, 'e')).mode & 0o7777, 0o750, 'and takes the later mode');
});

test('missing parents are created; GNU and pax long names work', async () => {
  const long = `${'deep/'.repeat(40)}${'n'.repeat(120)}`;
  const layer = await buildTar([{ name: long, content: 'long' }]);
  await unpack(layer);
  assert.is(readFileSync(join(area.dest, long), 'utf8'), 'long');
  assert.is(statSync(join(area.dest, 'deep')).mode & 0o7777, 0o755);
});

test('input that is no layer is refused as corrupt, truncated gzip included', async () => {
  const layer = await buildTar(TREE);
  const cases: [string, Buffer][] = [
    ['garbage', Buffer.from('this is not a tar archive at all'.repeat(40))],
    ['truncated gzip', gzip(layer).subarray(0, 5000)],
    ['truncated zstd', zstd(layer).subarray(0, 5000)],
    ['truncated tar', layer.subarray(0, 3000)],
  ];
  for (const [what, data] of cases) {
    const dest = join(area.base, what.replace(/ /g, '-'));
    spawnSync('mkdir', [dest]);
    try {
      await unpack(data, recordingReporter(), dest);
      assert.unreachable(`${what} was accepted`);
    } catch (err) {
      assert.instance(err, LayerCorruptError, `${what}: ${err}`);
      assert.match((err as Error).message, /^layer sha256:test: not a valid layer: /);
    }
  }
});

test('a failing input stream is reported as its own error, not as a corrupt layer', async () => {
  const layer = gzip(await buildTar(TREE));
  const input = new Readable({
    read() {
      this.push(layer.subarray(0, 20_000));
      this.destroy(new Error('connection reset by peer'));
    },
  });
  try {
    await withTimeout(
      unpackLayer(input, { destination: area.dest, canChown: false, reporter: recordingReporter(), helper: HELPER, layerDigest: 'sha256:test' }),
      30_000,
      'unpackLayer',
    );
    assert.unreachable('a broken stream was accepted');
  } catch (err) {
    assert.not.instance(err, LayerCorruptError);
    assert.is((err as Error).message, 'layer sha256:test: connection reset by peer');
  }
});

test('an empty layer (only the end-of-archive blocks) unpacks to nothing with the right diff id', async () => {
  const layer = await buildTar([]);
  const result = await unpack(gzip(layer));
  assert.equal(readdirSync(area.dest), []);
  assert.is(result.diffId, sha256sum(layer));
  assert.is(result.size, 0);
});

/** One line per path: type, mode, size, link target; the layout to compare trees by. */
function describeTree(root: string, untimed: string[]): string {
  const lines: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : '?';
      lines.push(`${path} ${type} ${(st.mode & 0o7777).toString(8)} ${st.isFile() ? st.size : ''} ${type === 'l' ? readlinkSync(join(root, path)) : ''} ${untimed.includes(path) ? '' : st.mtimeMs}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk('');
  return lines.join('\n');
}

function getXattr(path: string, name: string): string | undefined {
  const result = spawnSync('getfattr', ['--absolute-names', '--only-values', '-n', name, path], { timeout: 10_000 });
  return result.status === 0 ? result.stdout.toString() : undefined;
}

test.run();
