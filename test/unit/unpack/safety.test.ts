// Layers that try to write outside their directory: each one is refused with
// LayerUnsafeError naming the entry, and nothing outside the destination changes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { unpackLayer, LayerUnsafeError } from '../../../core/unpack/unpack.js';
import { withTimeout } from '../../lib/timeout.js';
import { HELPER, buildTar, gzip, recordingReporter, streamOf, workArea, type LayerEntry } from './layers.js';

let area: ReturnType<typeof workArea>;

test.before.each(() => {
  area = workArea('safety');
});

test.after.each(() => {
  area.cleanup();
});

/** Unpacks `entries`, expects a refusal matching `message`, and checks that the outside is untouched. */
async function refused(entries: LayerEntry[], message: string | RegExp): Promise<void> {
  const layer = gzip(await buildTar(entries));
  // A refused layer's directory is discarded, as the caller does.
  rmSync(area.dest, { recursive: true, force: true });
  mkdirSync(area.dest);
  let error: unknown;
  try {
    await withTimeout(
      unpackLayer(streamOf(layer), {
        destination: area.dest,
        canChown: false,
        reporter: recordingReporter(),
        helper: HELPER,
        layerDigest: 'sha256:abc',
      }),
      30_000,
      'unpackLayer',
    );
  } catch (err) {
    error = err;
  }
  assert.instance(error, LayerUnsafeError, `expected a refusal, got ${error}`);
  const text = (error as Error).message;
  if (typeof message === 'string') assert.is(text, message);
  else assert.match(text, message);
  assert.is((error as LayerUnsafeError).exitCode, 125);
  assert.equal(readdirSync(area.base).sort(), ['dest', 'outside']);
  assert.equal(readdirSync(area.outside), ['sentinel']);
  assert.is(readFileSync(area.sentinel, 'utf8'), 'untouched\n');
}

test('names with .. components are refused', async () => {
  await refused([{ name: '../outside/pwned', content: 'x' }], 'layer sha256:abc: entry "../outside/pwned" points outside the layer');
  await refused([{ name: 'a/../../outside/pwned', content: 'x' }], 'layer sha256:abc: entry "a/../../outside/pwned" points outside the layer');
  await refused([{ name: 'ok/../x', content: 'x' }], 'layer sha256:abc: entry "ok/../x" points outside the layer');
});

test('absolute names are refused, while ./ prefixes are normal', async () => {
  await refused([{ name: './fine', content: 'x' }, { name: `${'/'}etc/passwd`, content: 'x' }], 'layer sha256:abc: entry "/etc/passwd" points outside the layer');
});

test('an entry below a symlink of the same layer is refused, relative or absolute', async () => {
  await refused(
    [
      { name: 'evil', type: 'symlink', linkname: '../outside' },
      { name: 'evil/pwned', content: 'x' },
    ],
    'layer sha256:abc: entry "evil/pwned" goes through the symlink "evil"',
  );
  await refused(
    [
      { name: 'dir/', type: 'directory' },
      { name: 'dir/evil', type: 'symlink', linkname: area.outside },
      { name: 'dir/evil/sub/pwned', content: 'x' },
    ],
    'layer sha256:abc: entry "dir/evil/sub/pwned" goes through the symlink "dir/evil"',
  );
  await refused(
    [
      { name: 'evil', type: 'symlink', linkname: area.outside },
      { name: 'evil/', type: 'directory' },
      { name: 'evil2', type: 'symlink', linkname: area.outside },
      { name: 'evil2/.wh.sentinel' },
    ],
    'layer sha256:abc: entry "evil2/.wh.sentinel" goes through the symlink "evil2"',
  );
});

test('whiteouts that point outside are refused', async () => {
  await refused([{ name: '../.wh.outside' }], 'layer sha256:abc: entry "../.wh.outside" points outside the layer');
  await refused([{ name: 'a/.wh..' }], 'layer sha256:abc: entry "a/.wh.." points outside the layer');
  await refused([{ name: 'a/.wh...' }], 'layer sha256:abc: entry "a/.wh..." points outside the layer');
});

test('hard links must point at an earlier entry of this layer, not through a symlink', async () => {
  await refused(
    [{ name: 'stolen', type: 'link', linkname: '../outside/sentinel' }],
    'layer sha256:abc: hard link "stolen" points to "../outside/sentinel", outside the layer',
  );
  await refused([{ name: 'stolen', type: 'link', linkname: '/etc/passwd' }], 'layer sha256:abc: hard link "stolen" points to "/etc/passwd", outside the layer');
  await refused(
    [{ name: 'stolen', type: 'link', linkname: 'not/here' }],
    'layer sha256:abc: hard link "stolen" points to "not/here", which is not an earlier entry of this layer',
  );
  await refused(
    [
      { name: 'evil', type: 'symlink', linkname: area.outside },
      { name: 'stolen', type: 'link', linkname: 'evil/sentinel' },
    ],
    'layer sha256:abc: hard link "stolen" points to "evil/sentinel", which is not an earlier entry of this layer',
  );
  await refused(
    [
      { name: 'd/', type: 'directory' },
      { name: 'stolen', type: 'link', linkname: 'd' },
    ],
    'layer sha256:abc: hard link "stolen" points to "d", a directory',
  );
  await refused(
    [
      { name: 'later', type: 'link', linkname: 'file' },
      { name: 'file', content: 'x' },
    ],
    'layer sha256:abc: hard link "later" points to "file", which is not an earlier entry of this layer',
  );
});

test('a hard link to an earlier symlink links the symlink itself, never what it points to', async () => {
  const layer = await buildTar([
    { name: 'evil', type: 'symlink', linkname: area.sentinel },
    { name: 'twin', type: 'link', linkname: 'evil' },
  ]);
  await withTimeout(
    unpackLayer(streamOf(layer), { destination: area.dest, canChown: false, reporter: recordingReporter(), helper: HELPER }),
    30_000,
    'unpackLayer',
  );
  assert.ok(lstatSync(join(area.dest, 'twin')).isSymbolicLink());
  assert.is(lstatSync(join(area.dest, 'twin')).ino, lstatSync(join(area.dest, 'evil')).ino);
  assert.is(lstatSync(area.sentinel).nlink, 1);
});

test('a symlink at an entry\'s own path is replaced, never followed', async () => {
  const layer = await buildTar([
    { name: 'trap', type: 'symlink', linkname: area.sentinel },
    { name: 'trap', content: 'replaced', mode: 0o600 },
    { name: 'dirtrap', type: 'symlink', linkname: area.outside },
    { name: 'dirtrap/', type: 'directory' },
    { name: 'dirtrap/file', content: 'inside' },
  ]);
  await withTimeout(
    unpackLayer(streamOf(layer), { destination: area.dest, canChown: false, reporter: recordingReporter(), helper: HELPER }),
    30_000,
    'unpackLayer',
  );
  assert.ok(lstatSync(join(area.dest, 'trap')).isFile());
  assert.is(readFileSync(join(area.dest, 'trap'), 'utf8'), 'replaced');
  assert.ok(lstatSync(join(area.dest, 'dirtrap')).isDirectory());
  assert.is(readFileSync(join(area.dest, 'dirtrap/file'), 'utf8'), 'inside');
  assert.equal(readdirSync(area.outside), ['sentinel']);
  assert.is(readFileSync(area.sentinel, 'utf8'), 'untouched\n');
});

test('an entry that would replace the layer root is refused', async () => {
  await refused([{ name: './', type: 'symlink', linkname: area.outside }], 'layer sha256:abc: entry "./" would replace the layer root');
});

test('a destination that is not empty is not trusted as ours: an existing symlink there fails, never followed', async () => {
  // The contract says the destination is fresh; if it is not, writing must still not escape.
  symlinkSync(area.outside, join(area.dest, 'pre'));
  const layer = await buildTar([{ name: 'pre/pwned', content: 'x' }]);
  await withTimeout(
    unpackLayer(streamOf(layer), { destination: area.dest, canChown: false, reporter: recordingReporter(), helper: HELPER }),
    30_000,
    'unpackLayer',
  ).then(
    () => assert.unreachable('wrote below a symlink it did not make'),
    (err: Error) => assert.match(err.message, /EEXIST|file already exists/i),
  );
  assert.not.ok(existsSync(join(area.outside, 'pwned')));
});

test.run();
