// Checks the test fixtures with readers that are not ours: skopeo reads the
// registry (media types, platforms, layers, configs), GNU tar and zstd read
// the layers. If these fail, pull tests built on the fixtures mean nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { runProgram } from '../lib/tsbox.js';
import { withTimeout } from '../lib/timeout.js';
import {
  buildBusybox,
  buildLayered,
  buildMultiarch,
  buildZstd,
  busyboxApplets,
  HOSTILE_CASES,
  MEDIA_TYPES,
  MULTIARCH_PLATFORMS,
  platformString,
  pushAllFixtures,
  type FixtureReferences,
} from '../lib/fixtures.js';

let registry: TestRegistry;
let refs: FixtureReferences;
let work: string;
let policy: string;

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function skopeo(args: string[]): Promise<string> {
  const r = await runProgram('skopeo', ['--policy', policy, ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const raw = async (ref: string, extra: string[] = []) =>
  JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', ...extra, `docker://${ref}`]));
const rawBytes = async (ref: string) => Buffer.from(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));
const inspect = async (ref: string, extra: string[] = []) =>
  JSON.parse(await skopeo([...extra, 'inspect', '--tls-verify=false', `docker://${ref}`]));
const config = async (ref: string, extra: string[] = []) =>
  JSON.parse(await skopeo([...extra, 'inspect', '--config', '--tls-verify=false', `docker://${ref}`]));

/** Downloads an image with skopeo into a dir: copy and returns its manifest and a blob reader. */
async function download(ref: string, extra: string[] = []) {
  const dir = mkdtempSync(join(work, 'dir-'));
  await skopeo([...extra, 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir}`]);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const blob = (digest: string) => readFileSync(join(dir, digest.replace(/^sha256:/, '')));
  return { dir, manifest, blob };
}

function decompress(mediaType: string, bytes: Buffer): Buffer {
  if (mediaType.endsWith('gzip')) return gunzipSync(bytes);
  if (mediaType.endsWith('zstd')) {
    const file = join(work, 'layer.zst');
    writeFileSync(file, bytes);
    return Buffer.from(runSync('zstd', ['-d', '-q', '-c', file]));
  }
  return bytes;
}

function runSync(program: string, args: string[], input?: Buffer): Buffer {
  return execFileSync(program, args, { input, maxBuffer: 256 << 20, timeout: 60_000 });
}

/** GNU tar's verbose listing of an uncompressed layer, numeric owners. */
function tarList(tarBytes: Buffer): string {
  return runSync('tar', ['-tv', '--absolute-names', '--numeric-owner', '--full-time', '-f', '-'], tarBytes).toString();
}

test.before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsbox-fixtures-test-'));
  policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  registry = await startRegistry();
  refs = await withTimeout(pushAllFixtures(registry), 240_000, 'pushing all fixtures');
});

test.after(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('the registry holds our exact manifest bytes (skopeo --preserve-digests)', async () => {
  const pairs = [
    [refs.busybox, await buildBusybox('oci')],
    [refs.alpine, await buildBusybox('oci')],
    [refs.busyboxDocker, await buildBusybox('docker')],
    [refs.multiarch, await buildMultiarch('oci')],
    [refs.multiarchDocker, await buildMultiarch('docker')],
    [refs.layered, await buildLayered()],
    [refs.zstd, await buildZstd()],
  ] as const;
  for (const [ref, layout] of pairs) {
    assert.is(sha256(await rawBytes(ref)), layout.descriptor.digest, ref);
  }
});

test('busybox: one gzip OCI layer, a complete config, a working /bin tree', async () => {
  const manifest = await raw(refs.busybox);
  assert.is(manifest.mediaType, MEDIA_TYPES.ociManifest);
  assert.is(manifest.config.mediaType, MEDIA_TYPES.ociConfig);
  assert.equal(manifest.layers.map((l: { mediaType: string }) => l.mediaType), [MEDIA_TYPES.ociLayerGzip]);
  const info = await inspect(refs.busybox);
  assert.is(info.Architecture, 'amd64');
  assert.is(info.Os, 'linux');
  assert.is(info.Layers.length, 1);
  assert.ok(info.Env.some((e: string) => e.startsWith('PATH=')));
  assert.is(info.Labels['org.tsbox.fixture'], 'busybox');
  const cfg = await config(refs.busybox);
  assert.equal(cfg.config.Cmd, ['/bin/sh']);
  assert.is(cfg.config.WorkingDir, '/');
  assert.ok(cfg.created);
  assert.is(cfg.history.length, 1);

  const { manifest: m, blob } = await download(refs.busybox);
  const layer = m.layers[0];
  const tarBytes = decompress(layer.mediaType, blob(layer.digest));
  assert.equal(cfg.rootfs.diff_ids, [sha256(tarBytes)], 'diff_id is the hash of the uncompressed tar');
  const listing = tarList(tarBytes);
  assert.match(listing, /^-rwxr-xr-x 0\/0 +\d+ .* bin\/busybox$/m);
  assert.match(listing, /^lrwxrwxrwx 0\/0 .* bin\/sh -> \/bin\/busybox$/m);
  assert.match(listing, /^drwxrwxrwt 0\/0 .* tmp\/$/m);
  assert.match(listing, /^drwxr-xr-x 1000\/1000 .* home\/app\/$/m);
  for (const applet of ['sh', 'echo', 'cat', 'ls', 'id', 'true', 'false', 'sleep', 'env', 'wc', 'sha256sum']) {
    assert.ok(busyboxApplets().includes(applet), `the host busybox has ${applet}`);
    assert.ok(listing.includes(` bin/${applet} -> /bin/busybox`), applet);
  }
  assert.is(sha256(blob(layer.digest)), layer.digest);
});

test('alpine is the busybox image; busybox:docker is docker schema 2', async () => {
  assert.is((await inspect(refs.alpine)).Digest, (await inspect(refs.busybox)).Digest);
  const docker = await raw(refs.busyboxDocker);
  assert.is(docker.mediaType, MEDIA_TYPES.dockerManifest);
  assert.is(docker.config.mediaType, MEDIA_TYPES.dockerConfig);
  assert.equal(docker.layers.map((l: { mediaType: string }) => l.mediaType), [MEDIA_TYPES.dockerLayerGzip]);
  assert.is(docker.layers[0].digest, (await raw(refs.busybox)).layers[0].digest, 'the same layer blob');
});

for (const [name, mediaType, manifestType] of [
  ['multiarch (OCI index)', MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest],
  ['multiarch (docker manifest list)', MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest],
] as const) {
  test(`${name}: three platforms, each with its own /platform`, async () => {
    const ref = mediaType === MEDIA_TYPES.ociIndex ? refs.multiarch : refs.multiarchDocker;
    const index = await raw(ref);
    assert.is(index.mediaType, mediaType);
    assert.equal(
      index.manifests.map((m: { platform: { os: string; architecture: string; variant?: string } }) => platformString(m.platform)),
      MULTIARCH_PLATFORMS.map(platformString),
    );
    for (const m of index.manifests) assert.is(m.mediaType, manifestType);
    for (const platform of MULTIARCH_PLATFORMS) {
      const override = ['--override-os', platform.os, '--override-arch', platform.architecture];
      if (platform.variant) override.push('--override-variant', platform.variant);
      const cfg = await config(ref, override);
      assert.is(cfg.architecture, platform.architecture);
      assert.is(cfg.variant, platform.variant);
      assert.is(cfg.config.Labels['org.tsbox.platform'], platformString(platform));
      const { manifest, blob } = await download(ref, override);
      assert.is(manifest.mediaType, manifestType);
      assert.is(manifest.layers.length, 2);
      const top = manifest.layers[1];
      const content = runSync('tar', ['-xO', '-f', '-', 'platform'], decompress(top.mediaType, blob(top.digest))).toString();
      assert.is(content, platformString(platform) + '\n');
    }
  });
}

test('layered: four gzip layers with whiteouts, links, owners, modes, special files', async () => {
  const { manifest, blob } = await download(refs.layered);
  assert.is(manifest.layers.length, 4);
  for (const l of manifest.layers) assert.is(l.mediaType, MEDIA_TYPES.ociLayerGzip);
  const cfg = await config(refs.layered);
  const tars = manifest.layers.map((l: { mediaType: string; digest: string }) => decompress(l.mediaType, blob(l.digest)));
  assert.equal(cfg.rootfs.diff_ids, tars.map(sha256));
  assert.is(cfg.history.length, 4);
  const [, first, second, third] = tars.map(tarList);
  assert.match(first!, /^hrw-r----- 1000\/1000 .* data\/hardlink-b link to data\/hardlink-a$/m);
  assert.match(first!, /^lrwxrwxrwx 0\/0 .* data\/link-relative -> keep\/file$/m);
  assert.match(first!, /^lrwxrwxrwx 0\/0 .* data\/link-absolute -> \/etc\/passwd$/m);
  assert.match(first!, /^-rwsr-xr-x 0\/0 .* data\/setuid$/m);
  assert.match(first!, /^-rw-r--r-- 1234\/5678 .* data\/owned-odd$/m);
  assert.match(first!, /^-rw-r--r-- 65534\/65534 .* data\/owned-nobody$/m);
  assert.match(first!, /^drwx------ 1000\/1000 .* data\/private\/$/m);
  assert.match(first!, /^-rw-r--r-- 0\/0 +\d+ 2001-09-09 01:46:40 data\/old-mtime$/m);
  assert.match(first!, /^prw-r--r-- 0\/0 .* data\/fifo$/m);
  assert.match(first!, /^crw-rw-rw- 0\/0 +1,3 .* data\/null-device$/m);
  assert.match(second!, / etc\/\.wh\.removed\.txt$/m);
  assert.match(second!, / data\/opaque\/\.wh\.\.wh\.\.opq$/m);
  assert.match(third!, / data\/\.wh\.gone$/m);
});

test('zstd: a zstd layer and an uncompressed layer, diff_ids right', async () => {
  const { manifest, blob } = await download(refs.zstd);
  assert.equal(
    manifest.layers.map((l: { mediaType: string }) => l.mediaType),
    [MEDIA_TYPES.ociLayerZstd, MEDIA_TYPES.ociLayerTar],
  );
  const zstdBytes = blob(manifest.layers[0].digest);
  assert.equal([...zstdBytes.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'zstd magic: skopeo did not recompress');
  const tars = manifest.layers.map((l: { mediaType: string; digest: string }) => decompress(l.mediaType, blob(l.digest)));
  assert.equal((await config(refs.zstd)).rootfs.diff_ids, tars.map(sha256));
  assert.match(tarList(tars[0]), / bin\/busybox$/m);
  assert.match(tarList(tars[1]), / etc\/uncompressed-layer$/m);
});

test('hostile: one repository per case, each layer holding the hostile entry', async () => {
  assert.equal(Object.keys(refs.hostile).sort(), Object.keys(HOSTILE_CASES).sort());
  const expected: Record<string, RegExp> = {
    dotdot: / \.\.\/escape$/m,
    absolute: / \/abs\/escape$/m,
    'symlink-absolute': / link -> \/tmp\n.* link\/escape$/m,
    'symlink-dotdot': / up -> \.\.\/\.\.\/\.\.\/\.\.\/\.\.\n.* up\/tmp\/escape$/m,
    hardlink: / passwd link to \.\.\/\.\.\/etc\/passwd$/m,
    whiteout: / \.\.\/\.wh\.x$/m,
  };
  for (const [name, ref] of Object.entries(refs.hostile)) {
    assert.ok(ref.includes(`/hostile/${name}:latest`), ref);
    const { manifest, blob } = await download(ref);
    assert.is(manifest.layers.length, 1, name);
    const layer = manifest.layers[0];
    // --absolute-names: GNU tar lists the names as stored instead of stripping them.
    assert.match(tarList(decompress(layer.mediaType, blob(layer.digest))), expected[name]!, name);
  }
});

test('tampered: diff_id, recorded sizes and stored bytes are wrong in the advertised ways', async () => {
  const diffIdImage = await download(refs.tampered.diffId);
  const top = diffIdImage.manifest.layers[1];
  const cfg = await config(refs.tampered.diffId);
  assert.is.not(cfg.rootfs.diff_ids[1], sha256(decompress(top.mediaType, diffIdImage.blob(top.digest))));
  assert.is(sha256(diffIdImage.blob(top.digest)), top.digest, 'the blob itself is intact');

  const good = await raw(refs.tampered.sizeSmaller.replace(/:smaller$/, ':good'));
  const smaller = await raw(refs.tampered.sizeSmaller);
  const larger = await raw(refs.tampered.sizeLarger);
  assert.is(smaller.layers[1].digest, good.layers[1].digest);
  assert.is(smaller.layers[1].size, good.layers[1].size - 100);
  assert.is(larger.layers[1].size, good.layers[1].size + 100);

  assert.ok(refs.tampered.blob, 'a local registry gets the tampered blob');
  const manifest = await raw(refs.tampered.blob!);
  const layer = manifest.layers[1];
  assert.is(layer.mediaType, MEDIA_TYPES.ociLayerTar);
  const response = await fetch(`${registry.url}/v2/tampered/blob/blobs/${layer.digest}`, { signal: AbortSignal.timeout(10_000) });
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.is(bytes.length, layer.size, 'same length');
  assert.is.not(sha256(bytes), layer.digest, 'different bytes');
  assert.ok(bytes.includes('modified bytes of the tampered/blob fixture'));
  // skopeo, which verifies digests, refuses it.
  const dir = mkdtempSync(join(work, 'tampered-'));
  const r = await runProgram('skopeo', ['--policy', policy, 'copy', '--quiet', '--src-tls-verify=false', `docker://${refs.tampered.blob}`, `dir:${dir}`], { timeoutMs: 60_000 });
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /digest/i);
});

test.run();
