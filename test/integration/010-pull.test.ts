// tsbox pull against a real registry (Debian's docker-registry) holding
// images pushed by skopeo, as the unprivileged user, in real user namespaces.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, readFileSync, readlinkSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { pushAllFixtures, LAYERED_EXPECTED, HOSTILE_CASES, type FixtureReferences } from '../lib/fixtures.js';
import { runTsbox } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';

interface Context {
  registry: TestRegistry;
  refs: FixtureReferences;
  stores: TestStore[];
}

const test = suite<Context>('pull');

test.before(async (context) => {
  context.registry = await startRegistry();
  context.refs = await pushAllFixtures(context.registry);
  context.stores = [];
});

test.after(async (context) => {
  for (const store of context.stores) await store.cleanup();
  await context.registry?.stop();
});

function freshStore(context: Context): TestStore {
  const store = createTestStore();
  store.useRegistry(context.registry.host, { mirrorDockerIo: true });
  context.stores.push(store);
  return store;
}

/** The first subordinate uid of this user (what uid 1 in the namespace is outside). */
function firstSubuid(): number {
  const name = process.env.USER ?? '';
  const uid = process.getuid!();
  const line = readFileSync('/etc/subuid', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`) || l.startsWith(`${uid}:`));
  assert.ok(line, 'the test user needs an /etc/subuid range');
  return Number(line!.split(':')[1]);
}

/** Finds `path` in the image's layers, topmost first, as overlayfs would. */
function findInLayers(store: TestStore, layers: string[], path: string): string | undefined {
  for (const chainId of [...layers].reverse()) {
    const candidate = join(store.layerDiff(chainId), path);
    try {
      lstatSync(candidate);
      return candidate;
    } catch {
      // not in this layer
    }
  }
  return undefined;
}

test('pulls an image by its full name, prints its id, and unpacks its files owned as the image says', async (context) => {
  const store = freshStore(context);
  const result = await runTsbox(['pull', context.refs.busybox], { env: store.env });
  assert.is(result.code, 0, result.stderr);
  const images = store.images();
  assert.is(images.length, 1);
  assert.is(result.stdout.trim(), images[0]!.id);
  assert.equal(images[0]!.names, [context.refs.busybox]);
  const busybox = findInLayers(store, images[0]!.layers, 'bin/busybox')!;
  assert.ok(busybox, 'bin/busybox unpacked');
  assert.is(statSync(busybox).size, statSync('/bin/busybox').size);
  // uid 0 in the image is the user, as in podman's rootless mapping
  assert.is(statSync(busybox).uid, process.getuid!());
  assert.match(readlinkSync(findInLayers(store, images[0]!.layers, 'bin/sh')!), /busybox$/);
  assert.equal(store.leftovers().filter((n) => !n.startsWith('tmp/hold-')), []);
});

test('a short name resolves through the registries.conf mirror of docker.io', async (context) => {
  const store = freshStore(context);
  const result = await runTsbox(['pull', 'alpine'], { env: store.env });
  assert.is(result.code, 0, result.stderr);
  assert.equal(store.images()[0]!.names, ['docker.io/library/alpine:latest']);
});

test('unpacks whiteouts, opaque directories, hardlinks, setuid files and several owners', async (context) => {
  const store = freshStore(context);
  const result = await runTsbox(['pull', context.refs.layered], { env: store.env });
  assert.is(result.code, 0, result.stderr);
  const layers = store.images()[0]!.layers;
  assert.is(layers.length, 4);
  const sub = firstSubuid();
  const outside = (id: number) => (id === 0 ? process.getuid!() : sub + id - 1);
  const app = findInLayers(store, layers, 'data/owned-app')!;
  assert.is(statSync(app).uid, outside(1000));
  assert.is(statSync(findInLayers(store, layers, 'data/owned-odd')!).uid, outside(1234));
  assert.is(statSync(findInLayers(store, layers, 'data/owned-odd')!).gid, outside(5678));
  assert.is(statSync(findInLayers(store, layers, 'data/setuid')!).mode & 0o7777, 0o4755);
  const a = statSync(findInLayers(store, layers, 'data/hardlink-a')!);
  const b = statSync(findInLayers(store, layers, 'data/hardlink-b')!);
  assert.is(a.ino, b.ino);
  assert.is(readFileSync(findInLayers(store, layers, 'data/keep/file')!, 'utf8'), 'version 3\n');
  // layer 2 deletes etc/removed.txt with a whiteout: a 0:0 character device
  const whiteout = lstatSync(join(store.layerDiff(layers[2]!), 'etc/removed.txt'));
  assert.ok(whiteout.isCharacterDevice());
  assert.is(whiteout.rdev, 0);
  // layer 2 makes data/opaque opaque: the user.overlay.opaque xattr overlayfs reads with userxattr
  const xattr = execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.overlay.opaque', join(store.layerDiff(layers[2]!), 'data/opaque')]).toString();
  assert.is(xattr, 'y');
  assert.is(statSync(findInLayers(store, layers, 'data/old-mtime')!).mtime.getTime(), LAYERED_EXPECTED.present['data/old-mtime']!.mtime!.getTime());
  assert.ok(lstatSync(findInLayers(store, layers, 'data/fifo')!).isFIFO());
  assert.not.ok(findInLayers(store, layers, 'data/null-device'), 'device nodes are skipped');
  assert.match(result.stderr, /device/);
});

test('zstd and uncompressed layers unpack to the same files', async (context) => {
  const store = freshStore(context);
  const result = await runTsbox(['pull', '-q', context.refs.zstd], { env: store.env });
  assert.is(result.code, 0, result.stderr);
  const layers = store.images()[0]!.layers;
  assert.is(statSync(findInLayers(store, layers, 'bin/busybox')!).size, statSync('/bin/busybox').size);
  assert.is(readFileSync(findInLayers(store, layers, 'etc/uncompressed-layer')!, 'utf8'), 'from an uncompressed tar layer\n');
});

test('chooses the platform from an index: the host by default, --platform when given', async (context) => {
  for (const [ref, args, expected] of [
    [context.refs.multiarch, [], 'linux/amd64'],
    [context.refs.multiarch, ['--platform', 'linux/arm64'], 'linux/arm64/v8'],
    [context.refs.multiarchDocker, ['--platform', 'linux/arm/v7'], 'linux/arm/v7'],
  ] as const) {
    const store = freshStore(context);
    const result = await runTsbox(['pull', '-q', ...args, ref], { env: store.env });
    assert.is(result.code, 0, result.stderr);
    const image = store.images()[0]!;
    assert.is(readFileSync(findInLayers(store, image.layers, 'platform')!, 'utf8').trim(), expected);
  }
  const store = freshStore(context);
  const result = await runTsbox(['pull', '-q', '--platform', 'linux/s390x', context.refs.multiarch], { env: store.env });
  assert.is(result.code, 125);
  assert.match(result.stderr, /s390x/);
  assert.match(result.stderr, /linux\/amd64/);
  // a single-platform image is pulled as it is, with podman's warning; a platform no image has is refused
  const single = freshStore(context);
  const other = await runTsbox(['pull', '-q', '--platform', 'linux/s390x', context.refs.zstd], { env: single.env });
  assert.is(other.code, 0, other.stderr);
  assert.match(other.stderr, /^WARN\[\d+\] image platform \(linux\/amd64\) does not match the expected platform \(linux\/s390x\)\n$/);
  const bogus = await runTsbox(['pull', '-q', '--platform', 'bogus', context.refs.zstd], { env: single.env });
  assert.is(bogus.code, 125);
  assert.is(bogus.stderr, 'Error: invalid platform "bogus": unknown architecture "bogus" (use OS/ARCH[/VARIANT], e.g. linux/arm64/v8)\n');
});

test('an unknown image is one line of error with exit code 125 and an empty store', async (context) => {
  const store = freshStore(context);
  const result = await runTsbox(['pull', `${context.registry.host}/nosuch`], { env: store.env });
  assert.is(result.code, 125);
  assert.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`^Error: ${context.registry.host}/nosuch:latest: manifest unknown`));
  assert.equal(store.images(), []);
});

test('hostile layers are refused and write nothing outside the store', async (context) => {
  for (const [name, ref] of Object.entries(context.refs.hostile)) {
    const store = freshStore(context);
    const result = await runTsbox(['pull', '-q', ref], { env: store.env });
    assert.is(result.code, 125, `${name}: ${result.stderr}`);
    assert.match(result.stderr, /^Error: .*layer sha256:/, name);
    assert.equal(store.images(), [], name);
    const layers = existsSync(join(store.store, 'layers')) ? readdirSync(join(store.store, 'layers')) : [];
    assert.equal(layers, [], `${name}: no layer committed`);
  }
  assert.not.ok(existsSync('/tmp/escape'));
  assert.not.ok(existsSync('/abs/escape'));
  assert.ok(Object.keys(HOSTILE_CASES).length >= 5);
});

test('tampered images are refused: wrong diff id, wrong size', async (context) => {
  const cases: [string, RegExp][] = [
    [context.refs.tampered.diffId, /diff id/],
    // the manifest understates the size: more bytes come; overstates it: the blob ends short, also on resuming
    [context.refs.tampered.sizeSmaller, /: more than the expected \d+ bytes/],
    [context.refs.tampered.sizeLarger, /: got \d+ bytes, expected \d+/],
  ];
  if (context.refs.tampered.blob) cases.push([context.refs.tampered.blob, /: digest mismatch, got sha256:/]);
  for (const [ref, why] of cases) {
    const store = freshStore(context);
    const result = await runTsbox(['pull', '-q', ref], { env: store.env });
    assert.is(result.code, 125, `${ref}: ${result.stderr}`);
    assert.match(result.stderr, why, ref);
    // one line naming the image and the layer
    assert.ok(result.stderr.startsWith(`Error: ${ref}: layer sha256:`), result.stderr);
    assert.is(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.equal(store.images(), [], ref);
    assert.equal(store.leftovers().filter((n) => n.startsWith('downloads/')), [], `${ref}: bad bytes are not kept`);
  }
});

test('pulling an image twice keeps one copy and says the layers already exist', async (context) => {
  const store = freshStore(context);
  assert.is((await runTsbox(['pull', '-q', context.refs.layered], { env: store.env })).code, 0);
  const second = await runTsbox(['pull', context.refs.layered], { env: store.env });
  assert.is(second.code, 0, second.stderr);
  assert.match(second.stderr, /skipped: already exists/);
  assert.is(store.images().length, 1);
  assert.is(readdirSync(join(store.store, 'layers')).length, 4);
});

test('two pulls of the same image at once both succeed and leave one copy', async (context) => {
  const store = freshStore(context);
  const [a, b] = await Promise.all([
    runTsbox(['pull', '-q', context.refs.layered], { env: store.env }),
    runTsbox(['pull', '-q', context.refs.layered], { env: store.env }),
  ]);
  assert.is(a.code, 0, a.stderr);
  assert.is(b.code, 0, b.stderr);
  assert.is(a.stdout, b.stdout);
  assert.is(store.images().length, 1);
  assert.is(readdirSync(join(store.store, 'layers')).length, 4);
  assert.equal(store.leftovers().filter((n) => !n.startsWith('tmp/hold-')), []);
});

test.run();
