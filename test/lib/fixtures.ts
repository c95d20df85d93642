// Test images. Each fixture is built once per process as an OCI image layout
// under a private temp dir (see oci-layout.ts) and pushed into a test
// registry with skopeo --preserve-digests, so the registry serves exactly the
// bytes written here.
//
// Repositories and what they hold (HOST is the registry's 127.0.0.1:PORT):
//
//   HOST/library/busybox:latest   busybox: one gzip layer, /bin/busybox (the static host binary) with
//                                 applet symlinks, /etc/passwd and /etc/group (root, nobody, app 1000),
//                                 /tmp 1777; Cmd ["/bin/sh"], WorkingDir /, Labels
//   HOST/library/alpine:latest    the same image, so a short name `alpine` resolves through a mirror
//   HOST/library/busybox:docker   the same layer in a docker schema 2 manifest and config
//   HOST/multiarch/oci:latest     OCI index: linux/amd64, linux/arm64/v8, linux/arm/v7
//   HOST/multiarch/docker:latest  the same as a docker manifest list of docker schema 2 manifests;
//                                 each image = the busybox layer + a layer with /platform holding
//                                 e.g. "linux/arm64/v8\n"; its config names the platform and has the
//                                 label org.tsbox.platform (the busybox binary is the host's in all)
//   HOST/layered:latest           busybox layer + 3 gzip layers; see LAYERED_EXPECTED for the tree
//   HOST/zstd:latest              busybox content in a zstd layer + one uncompressed tar layer
//   HOST/hostile/<case>:latest    one gzip layer each that must be refused; see HOSTILE_CASES
//   HOST/tampered/<case>:latest   see pushTampered
//   big                           pushBig(): a large multi-layer image for benchmarks
import { mkdtempSync, readFileSync, rmSync, existsSync, openSync, readSync, writeSync, closeSync, fstatSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCipheriv, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  LayoutWriter,
  MEDIA_TYPES,
  packEntry,
  pushLayout,
  registryHost,
  layoutComplete,
  type Compression,
  type Descriptor,
  type Entry,
  type Layer,
  type ManifestStyle,
  type Platform,
  type RegistryLike,
} from './oci-layout.js';

export { MEDIA_TYPES, type Layer, type Descriptor, type RegistryLike } from './oci-layout.js';

/** One image (or index) ready to push: a layout dir and the tag naming it there. */
export interface FixtureLayout {
  dir: string;
  tag: string;
  /** the top descriptor: an image manifest, an OCI index or a docker manifest list */
  descriptor: Descriptor;
  /** the layers of the image (for an index: of its first image) */
  layers: Layer[];
}

let workDir: string | undefined;

/** This process's fixture directory, removed when the process exits. */
export function fixturesDir(): string {
  if (!workDir) {
    const dir = mkdtempSync(join(tmpdir(), 'tsbox-fixtures-'));
    workDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

const cache = new Map<string, Promise<FixtureLayout>>();

function cached(key: string, build: (writer: LayoutWriter) => Promise<FixtureLayout>): Promise<FixtureLayout> {
  let layout = cache.get(key);
  if (!layout) {
    const writer = new LayoutWriter(join(fixturesDir(), key.replace(/[^a-z0-9.-]+/gi, '_')));
    layout = build(writer).then((l) => {
      writer.finish();
      return l;
    });
    // A failed build may be retried by the next caller.
    layout.catch(() => cache.delete(key));
    cache.set(key, layout);
  }
  return layout;
}

// ---------------------------------------------------------------- busybox

export const BUSYBOX_BINARY = '/bin/busybox';

/** Applets linked in /bin (only those the host's busybox has are written). */
export const BUSYBOX_WANTED_APPLETS = [
  'sh', 'ash', 'echo', 'cat', 'ls', 'id', 'true', 'false', 'sleep', 'env', 'wc', 'sha256sum', 'md5sum',
  'printf', 'test', '[', 'mkdir', 'rmdir', 'rm', 'touch', 'cp', 'mv', 'ln', 'chmod', 'chown', 'stat', 'head',
  'tail', 'grep', 'sed', 'awk', 'sort', 'uniq', 'tr', 'cut', 'date', 'hostname', 'uname', 'pwd', 'whoami',
  'ps', 'kill', 'mount', 'df', 'du', 'find', 'xargs', 'tee', 'seq', 'basename', 'dirname', 'readlink',
  'realpath', 'wget', 'nc', 'ip', 'ifconfig', 'ping', 'cmp', 'diff', 'yes', 'dd', 'od', 'hexdump', 'nproc',
  'timeout', 'tty', 'stty', 'mknod', 'mkfifo', 'getent', 'nslookup', 'top', 'free', 'vi', 'less', 'more',
  'tar', 'gzip', 'gunzip', 'zcat', 'which', 'su', 'adduser', 'addgroup', 'chgrp', 'sync', 'umask', 'ulimit',
];

let hostApplets: Set<string> | undefined;

/** The applets the host's busybox actually provides, among those wanted. */
export function busyboxApplets(): string[] {
  if (!hostApplets) hostApplets = new Set(execFileSync(BUSYBOX_BINARY, ['--list'], { encoding: 'utf8' }).split('\n'));
  return BUSYBOX_WANTED_APPLETS.filter((a) => hostApplets!.has(a));
}

export const PASSWD = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
`;
export const GROUP = `root:x:0:
nobody:x:65534:
app:x:1000:
`;

/** The busybox root filesystem (what busybox and zstd images contain). */
export function busyboxEntries(): Entry[] {
  const dirs: Entry[] = ['bin', 'dev', 'etc', 'home', 'proc', 'sys', 'usr', 'usr/bin', 'var', 'run'].map((d) => ({
    type: 'dir',
    path: d + '/',
  }));
  return [
    ...dirs,
    { type: 'dir', path: 'root/', mode: 0o700 },
    { type: 'dir', path: 'tmp/', mode: 0o1777 },
    { type: 'dir', path: 'var/tmp/', mode: 0o1777 },
    { type: 'dir', path: 'home/app/', uid: 1000, gid: 1000 },
    { type: 'file', path: 'bin/busybox', mode: 0o755, content: readFileSync(BUSYBOX_BINARY) },
    ...busyboxApplets().map((a): Entry => ({ type: 'symlink', path: `bin/${a}`, target: '/bin/busybox' })),
    { type: 'file', path: 'etc/passwd', content: PASSWD },
    { type: 'file', path: 'etc/group', content: GROUP },
    { type: 'file', path: 'etc/os-release', content: 'NAME="tsbox busybox fixture"\nID=busybox\n' },
  ];
}

const BUSYBOX_CONFIG = {
  Labels: { 'org.tsbox.fixture': 'busybox' },
  WorkingDir: '/',
};

/** The busybox layer alone (gzip), shared by several fixtures. */
function busyboxLayer(): Promise<FixtureLayout> {
  return cached('busybox-oci', async (w) => {
    const layer = await w.addLayerEntries('gzip', busyboxEntries());
    const { manifest } = w.addImage({ layers: [layer], config: BUSYBOX_CONFIG, history: [{ created_by: 'tsbox fixture: busybox' }] });
    w.tag('latest', manifest);
    return { dir: w.dir, tag: 'latest', descriptor: manifest, layers: [layer] };
  });
}

/** busybox in an OCI layout ('oci') or with docker schema 2 manifest and config ('docker'). */
export function buildBusybox(style: ManifestStyle = 'oci'): Promise<FixtureLayout> {
  if (style === 'oci') return busyboxLayer();
  return cached('busybox-docker', async (w) => {
    const layer = w.importLayer((await busyboxLayer()).layers[0]!);
    const { manifest } = w.addImage({ style, layers: [layer], config: BUSYBOX_CONFIG });
    w.tag('latest', manifest);
    return { dir: w.dir, tag: 'latest', descriptor: manifest, layers: [layer] };
  });
}

export async function pushBusybox(registry: RegistryLike, repository = 'library/busybox', tag = 'latest', style: ManifestStyle = 'oci'): Promise<string> {
  const layout = await buildBusybox(style);
  return pushLayout(layout.dir, layout.tag, registry, repository, tag);
}

// ---------------------------------------------------------------- multiarch

export const MULTIARCH_PLATFORMS: Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
];

/** `linux/arm64/v8`: what /platform holds (plus a newline) in each multiarch image. */
export function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** An OCI index ('oci') or a docker manifest list of schema 2 manifests ('docker'). */
export function buildMultiarch(style: ManifestStyle = 'oci'): Promise<FixtureLayout> {
  return cached(`multiarch-${style}`, async (w) => {
    const base = w.importLayer((await busyboxLayer()).layers[0]!);
    const manifests: Descriptor[] = [];
    let firstLayers: Layer[] = [];
    for (const platform of MULTIARCH_PLATFORMS) {
      const name = platformString(platform);
      const layer = await w.addLayerEntries('gzip', [{ type: 'file', path: 'platform', content: name + '\n' }]);
      const { manifest } = w.addImage({
        style,
        platform,
        layers: [base, layer],
        config: { Labels: { 'org.tsbox.fixture': 'multiarch', 'org.tsbox.platform': name } },
      });
      manifests.push(manifest);
      if (!firstLayers.length) firstLayers = [base, layer];
    }
    const index = w.addIndex(manifests, style);
    w.tag('latest', index);
    return { dir: w.dir, tag: 'latest', descriptor: index, layers: firstLayers };
  });
}

export async function pushMultiarch(registry: RegistryLike, style: ManifestStyle = 'oci'): Promise<string> {
  const layout = await buildMultiarch(style);
  return pushLayout(layout.dir, layout.tag, registry, `multiarch/${style}`, 'latest');
}

// ---------------------------------------------------------------- layered

/** 2001-09-09T01:46:40Z */
export const OLD_MTIME = new Date(1_000_000_000 * 1000);

/** The three layers above the busybox layer in `layered`, lowest first. */
export function layeredLayerEntries(): Entry[][] {
  return [
    [
      { type: 'dir', path: 'data/' },
      { type: 'file', path: 'etc/removed.txt', content: 'deleted by a whiteout in layer 2\n' },
      { type: 'dir', path: 'data/opaque/' },
      { type: 'file', path: 'data/opaque/old-a', content: 'hidden by the opaque dir in layer 2\n' },
      { type: 'dir', path: 'data/opaque/sub/' },
      { type: 'file', path: 'data/opaque/sub/old-b', content: 'hidden too\n' },
      { type: 'dir', path: 'data/keep/' },
      { type: 'file', path: 'data/keep/file', content: 'version 1\n' },
      { type: 'dir', path: 'data/gone/' },
      { type: 'file', path: 'data/gone/inner', content: 'the whole directory is deleted in layer 3\n' },
      { type: 'file', path: 'data/hardlink-a', content: 'one inode, two names\n', mode: 0o640, uid: 1000, gid: 1000 },
      { type: 'hardlink', path: 'data/hardlink-b', target: 'data/hardlink-a', mode: 0o640, uid: 1000, gid: 1000 },
      { type: 'symlink', path: 'data/link-relative', target: 'keep/file' },
      { type: 'symlink', path: 'data/link-absolute', target: '/etc/passwd' },
      { type: 'file', path: 'data/setuid', mode: 0o4755, content: '#!/bin/sh\necho setuid\n' },
      { type: 'file', path: 'data/setgid', mode: 0o2755, gid: 1000, content: 'setgid\n' },
      { type: 'file', path: 'data/owned-root', content: 'root\n' },
      { type: 'file', path: 'data/owned-app', uid: 1000, gid: 1000, content: 'app\n' },
      { type: 'file', path: 'data/owned-nobody', uid: 65534, gid: 65534, content: 'nobody\n' },
      { type: 'file', path: 'data/owned-odd', uid: 1234, gid: 5678, uname: '', gname: '', content: '1234:5678\n' },
      { type: 'dir', path: 'data/private/', mode: 0o700, uid: 1000, gid: 1000 },
      { type: 'file', path: 'data/private/secret', mode: 0o600, uid: 1000, gid: 1000, content: 'secret\n' },
      { type: 'file', path: 'data/old-mtime', mtime: OLD_MTIME, content: 'from 2001\n' },
      { type: 'fifo', path: 'data/fifo', mode: 0o644 },
      { type: 'chardev', path: 'data/null-device', major: 1, minor: 3, mode: 0o666 },
    ],
    [
      { type: 'file', path: 'etc/.wh.removed.txt', content: '' },
      { type: 'dir', path: 'data/opaque/' },
      { type: 'file', path: 'data/opaque/.wh..wh..opq', content: '' },
      { type: 'file', path: 'data/opaque/new', content: 'the only file left in data/opaque\n' },
      { type: 'file', path: 'data/keep/added', content: 'added in layer 2\n' },
    ],
    [
      { type: 'file', path: 'data/.wh.gone', content: '' },
      { type: 'file', path: 'data/keep/file', content: 'version 3\n' },
    ],
  ];
}

export interface ExpectedNode {
  type: 'file' | 'dir' | 'symlink' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  content?: string;
  target?: string;
  mtime?: Date;
  /** another path that must be the same inode */
  sameInodeAs?: string;
}

/** What the unpacked `layered` image must look like (paths relative to its root). */
export const LAYERED_EXPECTED: {
  present: Record<string, ExpectedNode>;
  absent: string[];
  /** entries a rootless unpack skips, with a single warning for the layer */
  skippedDevices: string[];
} = {
  present: {
    'data/keep/file': { type: 'file', content: 'version 3\n' },
    'data/keep/added': { type: 'file', content: 'added in layer 2\n' },
    'data/opaque/new': { type: 'file', content: 'the only file left in data/opaque\n' },
    'data/hardlink-a': { type: 'file', mode: 0o640, uid: 1000, gid: 1000, content: 'one inode, two names\n' },
    'data/hardlink-b': { type: 'file', mode: 0o640, uid: 1000, gid: 1000, sameInodeAs: 'data/hardlink-a' },
    'data/link-relative': { type: 'symlink', target: 'keep/file' },
    'data/link-absolute': { type: 'symlink', target: '/etc/passwd' },
    'data/setuid': { type: 'file', mode: 0o4755, uid: 0, gid: 0 },
    'data/setgid': { type: 'file', mode: 0o2755, uid: 0, gid: 1000 },
    'data/owned-root': { type: 'file', uid: 0, gid: 0 },
    'data/owned-app': { type: 'file', uid: 1000, gid: 1000 },
    'data/owned-nobody': { type: 'file', uid: 65534, gid: 65534 },
    'data/owned-odd': { type: 'file', uid: 1234, gid: 5678 },
    'data/private': { type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
    'data/private/secret': { type: 'file', mode: 0o600, uid: 1000, gid: 1000, content: 'secret\n' },
    'data/old-mtime': { type: 'file', mtime: OLD_MTIME },
    'data/fifo': { type: 'fifo', mode: 0o644 },
    'bin/busybox': { type: 'file', mode: 0o755 },
    'tmp': { type: 'dir', mode: 0o1777 },
  },
  absent: ['etc/removed.txt', 'data/opaque/old-a', 'data/opaque/sub', 'data/gone'],
  skippedDevices: ['data/null-device'],
};

export function buildLayered(): Promise<FixtureLayout> {
  return cached('layered', async (w) => {
    const layers = [w.importLayer((await busyboxLayer()).layers[0]!)];
    for (const entries of layeredLayerEntries()) layers.push(await w.addLayerEntries('gzip', entries));
    const { manifest } = w.addImage({
      layers,
      config: { Labels: { 'org.tsbox.fixture': 'layered' }, WorkingDir: '/data', User: '0:0' },
      history: [
        { created_by: 'tsbox fixture: busybox' },
        { created_by: 'tsbox fixture: layered 1 (files of every kind)' },
        { created_by: 'tsbox fixture: layered 2 (whiteout, opaque dir)' },
        { created_by: 'tsbox fixture: layered 3 (directory whiteout, overwrite)' },
      ],
    });
    w.tag('latest', manifest);
    return { dir: w.dir, tag: 'latest', descriptor: manifest, layers };
  });
}

export async function pushLayered(registry: RegistryLike): Promise<string> {
  const layout = await buildLayered();
  return pushLayout(layout.dir, layout.tag, registry, 'layered', 'latest');
}

// ---------------------------------------------------------------- zstd

export const ZSTD_EXTRA_FILE = { path: 'etc/uncompressed-layer', content: 'from an uncompressed tar layer\n' };

/** busybox's entries in a zstd layer, then an uncompressed layer adding ZSTD_EXTRA_FILE. */
export function buildZstd(): Promise<FixtureLayout> {
  return cached('zstd', async (w) => {
    const layers = [
      await w.addLayerEntries('zstd', busyboxEntries()),
      await w.addLayerEntries('none', [{ type: 'file', ...ZSTD_EXTRA_FILE }]),
    ];
    const { manifest } = w.addImage({ layers, config: { Labels: { 'org.tsbox.fixture': 'zstd' } } });
    w.tag('latest', manifest);
    return { dir: w.dir, tag: 'latest', descriptor: manifest, layers };
  });
}

export async function pushZstd(registry: RegistryLike): Promise<string> {
  const layout = await buildZstd();
  return pushLayout(layout.dir, layout.tag, registry, 'zstd', 'latest');
}

// ---------------------------------------------------------------- hostile

/**
 * Layers that try to write outside the layer's directory. Each is pushed as
 * HOST/hostile/<name>:latest; pulling any of them must fail (LayerUnsafeError)
 * and leave nothing outside the store. `absolute` may instead be unpacked
 * with the leading slash stripped, but never at /abs on the host.
 */
export const HOSTILE_CASES = {
  dotdot: [{ type: 'file', path: '../escape', content: 'escaped\n' }],
  absolute: [{ type: 'file', path: '/abs/escape', content: 'escaped\n' }],
  'symlink-absolute': [
    { type: 'symlink', path: 'link', target: '/tmp' },
    { type: 'file', path: 'link/escape', content: 'escaped through a symlink\n' },
  ],
  'symlink-dotdot': [
    { type: 'symlink', path: 'up', target: '../../../../..' },
    { type: 'file', path: 'up/tmp/escape', content: 'escaped through a relative symlink\n' },
  ],
  hardlink: [{ type: 'hardlink', path: 'passwd', target: '../../etc/passwd' }],
  whiteout: [{ type: 'file', path: '../.wh.x', content: '' }],
} satisfies Record<string, Entry[]>;

export type HostileCase = keyof typeof HOSTILE_CASES;

export function buildHostile(name: HostileCase): Promise<FixtureLayout> {
  return cached(`hostile-${name}`, async (w) => {
    const layer = await w.addLayerEntries('gzip', HOSTILE_CASES[name] as Entry[]);
    const { manifest } = w.addImage({ layers: [layer], config: { Labels: { 'org.tsbox.fixture': `hostile/${name}` } } });
    w.tag('latest', manifest);
    return { dir: w.dir, tag: 'latest', descriptor: manifest, layers: [layer] };
  });
}

export async function pushHostile(registry: RegistryLike): Promise<Record<HostileCase, string>> {
  const out = {} as Record<HostileCase, string>;
  for (const name of Object.keys(HOSTILE_CASES) as HostileCase[]) {
    const layout = await buildHostile(name);
    out[name] = await pushLayout(layout.dir, layout.tag, registry, `hostile/${name}`, 'latest');
  }
  return out;
}

// ---------------------------------------------------------------- tampered

export interface TamperedReferences {
  /**
   * HOST/tampered/blob:latest — the registry's stored copy of the (uncompressed)
   * layer had bytes changed after the push, keeping its length: the tar still
   * reads, the content is "modified" where the image says "original"; only
   * checking the blob's digest catches it. Present only for a registry whose
   * storage is on this machine (a TestRegistry with `dir`).
   */
  blob?: string;
  /** HOST/tampered/diffid:latest — consistent blobs, but config rootfs.diff_ids[0] is the hash of something else. */
  diffId: string;
  /** HOST/tampered/size:smaller — the manifest records the layer 100 bytes shorter than it is. */
  sizeSmaller: string;
  /** HOST/tampered/size:larger — the manifest records the layer 100 bytes longer than it is. */
  sizeLarger: string;
}

const TAMPER_ORIGINAL = 'original';
const TAMPER_MODIFIED = 'modified';

function tamperedLayerEntries(which: string): Entry[] {
  // Unique content per case: the registry stores blobs once by digest, so
  // tampering with one must not touch another fixture's layer.
  return [{ type: 'file', path: 'tampered', content: `${TAMPER_ORIGINAL} bytes of the tampered/${which} fixture\n` }];
}

export function buildTampered(which: 'blob' | 'diffid' | 'size'): Promise<FixtureLayout> {
  return cached(`tampered-${which}`, async (w) => {
    const base = w.importLayer((await busyboxLayer()).layers[0]!);
    const layer = await w.addLayerEntries(which === 'blob' ? 'none' : 'gzip', tamperedLayerEntries(which));
    const layers = [base, layer];
    const diffIds = layers.map((l) => l.diffId);
    if (which === 'diffid') diffIds[1] = 'sha256:' + createHash('sha256').update('not this layer').digest('hex');
    const { manifest } = w.addImage({ layers, diffIds, config: { Labels: { 'org.tsbox.fixture': `tampered/${which}` } } });
    w.tag('latest', manifest);
    return { dir: w.dir, tag: 'latest', descriptor: manifest, layers };
  });
}

/** Where Debian's docker-registry (filesystem driver, as test/lib/registry.ts configures it) keeps a blob. */
export function registryBlobPath(registryDir: string, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return join(registryDir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

/** Replaces the first `from` in a file with `to` (same length), in place. */
function patchFile(path: string, from: string, to: string): void {
  const fd = openSync(path, 'r+');
  try {
    const bytes = Buffer.alloc(fstatSync(fd).size);
    readSync(fd, bytes, 0, bytes.length, 0);
    const at = bytes.indexOf(from);
    if (at < 0) throw new Error(`${path}: "${from}" not found`);
    writeSync(fd, Buffer.from(to), 0, to.length, at);
  } finally {
    closeSync(fd);
  }
}

/** PUTs a manifest straight to the registry (skopeo would not write a wrong size). */
async function putManifest(host: string, repository: string, tag: string, mediaType: string, body: Buffer): Promise<string> {
  const response = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: new Uint8Array(body),
    signal: AbortSignal.timeout(30_000),
  });
  if (response.status !== 201) throw new Error(`PUT manifest ${repository}:${tag}: ${response.status} ${await response.text()}`);
  return `${host}/${repository}:${tag}`;
}

/** Pushes the tampered images; see TamperedReferences for what each checks. */
export async function pushTampered(registry: RegistryLike & { dir?: string }): Promise<TamperedReferences> {
  const host = registryHost(registry);
  const diffIdLayout = await buildTampered('diffid');
  const diffId = await pushLayout(diffIdLayout.dir, diffIdLayout.tag, registry, 'tampered/diffid', 'latest');

  const sizeLayout = await buildTampered('size');
  await pushLayout(sizeLayout.dir, sizeLayout.tag, registry, 'tampered/size', 'good');
  const manifest = JSON.parse(readFileSync(join(sizeLayout.dir, 'blobs', 'sha256', sizeLayout.descriptor.digest.slice(7)), 'utf8'));
  const withSize = (delta: number) => {
    const copy = structuredClone(manifest);
    copy.layers[1].size += delta;
    return Buffer.from(JSON.stringify(copy));
  };
  const sizeSmaller = await putManifest(host, 'tampered/size', 'smaller', MEDIA_TYPES.ociManifest, withSize(-100));
  const sizeLarger = await putManifest(host, 'tampered/size', 'larger', MEDIA_TYPES.ociManifest, withSize(100));

  let blob: string | undefined;
  if (typeof registry !== 'string' && registry.dir) {
    const blobLayout = await buildTampered('blob');
    blob = await pushLayout(blobLayout.dir, blobLayout.tag, registry, 'tampered/blob', 'latest');
    const stored = registryBlobPath(registry.dir, blobLayout.layers[1]!.digest);
    if (!existsSync(stored)) throw new Error(`tampered/blob: the registry did not store the layer at ${stored}`);
    patchFile(stored, TAMPER_ORIGINAL, TAMPER_MODIFIED);
  }
  return { blob, diffId, sizeSmaller, sizeLarger };
}

// ---------------------------------------------------------------- big

export interface BigOptions {
  /** unpacked size of the generated files, at least (MiB) */
  sizeMB: number;
  /** generated layers, on top of the busybox layer */
  layers: number;
  /** keep the layout here and reuse it across processes (default: this process's temp dir) */
  cacheDir?: string;
  compression?: Compression;
}

/**
 * Deterministic content for `big`: files of a spread of sizes (many small,
 * some of a few MiB, a few large), about 40% incompressible bytes (an
 * AES-CTR keystream, like binaries and already-compressed data) and 60%
 * text-like bytes that gzip to about a third.
 */
class BigContent {
  private readonly corpus: Buffer;
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
    const words = Array.from({ length: 4096 }, () => this.word());
    const parts: string[] = [];
    let length = 0;
    while (length < 1 << 20) {
      const line = Array.from({ length: 4 + this.below(12) }, () => words[this.below(words.length)]).join(' ') + '\n';
      parts.push(line);
      length += line.length;
    }
    this.corpus = Buffer.from(parts.join(''));
  }

  /** xorshift32: fast, deterministic, good enough to pick sizes and offsets */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  below(n: number): number {
    return this.next() % n;
  }

  private word(): string {
    const letters = 'etaoinshrdlcumwfgypbvkjxqz';
    let w = '';
    const length = 2 + this.below(9);
    for (let i = 0; i < length; i++) w += letters[Math.min(this.below(26), this.below(26))];
    return w;
  }

  fileSize(): number {
    const r = this.below(1000);
    if (r < 850) return 512 + this.below(32 * 1024);
    if (r < 990) return 64 * 1024 + this.below(2 * 1024 * 1024);
    return 8 * 1024 * 1024 + this.below(24 * 1024 * 1024);
  }

  random(size: number): Buffer {
    const key = Buffer.alloc(16);
    key.writeUInt32LE(this.next(), 0);
    key.writeUInt32LE(this.next(), 4);
    return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
  }

  text(size: number): Buffer {
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const from = this.below(this.corpus.length - 4096);
      const n = Math.min(size - at, 256 + this.below(3840));
      this.corpus.copy(out, at, from, from + n);
      at += n;
    }
    return out;
  }
}

/** Writes one generated layer of about `bytes` into the pack. */
async function fillBigLayer(pack: Parameters<typeof packEntry>[0], index: number, bytes: number): Promise<void> {
  const content = new BigContent(0x9e3779b9 ^ (index * 7919));
  const root = `opt/big/layer-${index}`;
  await packEntry(pack, { type: 'dir', path: 'opt/' });
  await packEntry(pack, { type: 'dir', path: 'opt/big/' });
  await packEntry(pack, { type: 'dir', path: root + '/' });
  let written = 0;
  let file = 0;
  let dir = -1;
  while (written < bytes) {
    if (file % 200 === 0) {
      dir++;
      await packEntry(pack, { type: 'dir', path: `${root}/d${dir}/` });
    }
    const size = Math.min(content.fileSize(), Math.max(512, bytes - written));
    const data = content.below(10) < 4 ? content.random(size) : content.text(size);
    await packEntry(pack, { type: 'file', path: `${root}/d${dir}/f${file}`, content: data, mode: file % 7 === 0 ? 0o755 : 0o644 });
    written += size;
    file++;
  }
}

/** A busybox layer plus `layers` generated layers, `sizeMB` MiB of files in all. */
export function buildBig(options: BigOptions): Promise<FixtureLayout> {
  const compression = options.compression ?? 'gzip';
  const key = `big-${options.sizeMB}m-${options.layers}l-${compression}`;
  if (options.cacheDir) return buildBigCached(options, key, compression);
  return cached(key, (w) => writeBig(w, options, compression));
}

async function writeBig(w: LayoutWriter, options: BigOptions, compression: Compression): Promise<FixtureLayout> {
  const perLayer = Math.ceil((options.sizeMB * 1024 * 1024) / options.layers);
  const base = w.importLayer((await busyboxLayer()).layers[0]!);
  // Layers compress on the libuv pool, so building them side by side uses every core.
  const generated = await Promise.all(
    Array.from({ length: options.layers }, (_, i) => w.addLayer(compression, (pack) => fillBigLayer(pack, i, perLayer))),
  );
  const layers = [base, ...generated];
  const { manifest } = w.addImage({ layers, config: { Labels: { 'org.tsbox.fixture': 'big', 'org.tsbox.size-mb': String(options.sizeMB) } } });
  w.tag('latest', manifest);
  return { dir: w.dir, tag: 'latest', descriptor: manifest, layers };
}

const persistent = new Map<string, Promise<FixtureLayout>>();

function buildBigCached(options: BigOptions, key: string, compression: Compression): Promise<FixtureLayout> {
  const dir = join(options.cacheDir!, key);
  let layout = persistent.get(dir);
  if (layout) return layout;
  layout = (async () => {
    const summary = join(dir, 'fixture.json');
    if (layoutComplete(dir) && existsSync(summary)) return JSON.parse(readFileSync(summary, 'utf8')) as FixtureLayout;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const w = new LayoutWriter(dir);
    const result = await writeBig(w, options, compression);
    writeFileSyncAtomic(summary, JSON.stringify(result));
    w.finish();
    return result;
  })();
  persistent.set(dir, layout);
  return layout;
}

function writeFileSyncAtomic(path: string, data: string): void {
  const temp = `${path}.${process.pid}`;
  writeFileSync(temp, data);
  renameSync(temp, path);
}

export async function pushBig(registry: RegistryLike, options: BigOptions & { repository?: string }): Promise<string> {
  const layout = await buildBig(options);
  return pushLayout(layout.dir, layout.tag, registry, options.repository ?? 'bench/big', 'latest', 30 * 60_000);
}

// ---------------------------------------------------------------- all

export interface FixtureReferences {
  busybox: string;
  alpine: string;
  busyboxDocker: string;
  multiarch: string;
  multiarchDocker: string;
  layered: string;
  zstd: string;
  hostile: Record<HostileCase, string>;
  tampered: TamperedReferences;
}

/** Pushes every fixture except `big` and returns their references (HOST/REPOSITORY:TAG). */
export async function pushAllFixtures(registry: RegistryLike & { dir?: string }): Promise<FixtureReferences> {
  // Build first (the busybox layer is shared), then push a few at a time.
  await Promise.all([buildBusybox('oci'), buildBusybox('docker'), buildMultiarch('oci'), buildMultiarch('docker'), buildLayered(), buildZstd()]);
  const [busybox, alpine, busyboxDocker, multiarch, multiarchDocker, layered, zstd] = await Promise.all([
    pushBusybox(registry),
    pushBusybox(registry, 'library/alpine', 'latest'),
    pushBusybox(registry, 'library/busybox', 'docker', 'docker'),
    pushMultiarch(registry, 'oci'),
    pushMultiarch(registry, 'docker'),
    pushLayered(registry),
    pushZstd(registry),
  ]);
  const [hostile, tampered] = await Promise.all([pushHostile(registry), pushTampered(registry)]);
  return { busybox: busybox!, alpine: alpine!, busyboxDocker: busyboxDocker!, multiarch: multiarch!, multiarchDocker: multiarchDocker!, layered: layered!, zstd: zstd!, hostile, tampered };
}
