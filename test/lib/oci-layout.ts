// Writes OCI image layouts (oci-layout, index.json, blobs/sha256/…) from
// entries the tests describe, and pushes them into a test registry with
// skopeo, so the pull side is checked against bytes written by an
// independent tool chain rather than by tsbox itself.
import { createHash, type Hash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Duplex, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar, { type Header, type Pack } from 'tar-stream';
import { runProgram } from './tsbox.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Which manifest family an image is written in. */
export type ManifestStyle = 'oci' | 'docker';
export type Compression = 'gzip' | 'zstd' | 'none';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Layer {
  compression: Compression;
  /** sha256 of the compressed blob */
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar, what config.rootfs.diff_ids holds */
  diffId: string;
  /** bytes of the uncompressed tar */
  tarSize: number;
  /** the blob file inside the layout */
  path: string;
}

/** The `config` part of an image config that fixtures set. */
export interface ImageConfigDetails {
  Env: string[];
  Cmd: string[];
  Entrypoint: string[];
  WorkingDir: string;
  User: string;
  Labels: Record<string, string>;
}

/** Fixed so that fixtures are byte-for-byte reproducible (and so are their digests). */
export const FIXTURE_MTIME = new Date('2024-01-02T03:04:05Z');

/** One tar entry; owners default to root:root, times to FIXTURE_MTIME. */
export type Entry =
  | ({ type: 'file'; content: Buffer | string } & EntryMeta)
  | ({ type: 'dir' } & EntryMeta)
  | ({ type: 'symlink'; target: string } & EntryMeta)
  | ({ type: 'hardlink'; target: string } & EntryMeta)
  | ({ type: 'fifo' } & EntryMeta)
  | ({ type: 'chardev'; major: number; minor: number } & EntryMeta);

export interface EntryMeta {
  /** the name in the tar, written as given (hostile fixtures rely on that) */
  path: string;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: Date;
}

const TAR_TYPES = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  hardlink: 'link',
  fifo: 'fifo',
  chardev: 'character-device',
} as const;

const DEFAULT_NAMES: Record<number, string> = { 0: 'root', 1000: 'app', 65534: 'nobody' };

export function tarHeader(entry: Entry): Partial<Header> & { name: string } {
  const uid = entry.uid ?? 0;
  const gid = entry.gid ?? 0;
  const header: Partial<Header> & { name: string } = {
    name: entry.path,
    type: TAR_TYPES[entry.type],
    mode: entry.mode ?? (entry.type === 'dir' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644),
    uid,
    gid,
    uname: entry.uname ?? DEFAULT_NAMES[uid] ?? '',
    gname: entry.gname ?? DEFAULT_NAMES[gid] ?? '',
    mtime: entry.mtime ?? FIXTURE_MTIME,
  };
  if (entry.type === 'symlink' || entry.type === 'hardlink') header.linkname = entry.target;
  if (entry.type === 'chardev') {
    header.devmajor = entry.major;
    header.devminor = entry.minor;
  }
  return header;
}

/** Adds one entry to a pack, waiting until its bytes are taken (so big layers stay bounded in memory). */
export function packEntry(pack: Pack, entry: Entry): Promise<void> {
  const body = entry.type === 'file' ? (typeof entry.content === 'string' ? Buffer.from(entry.content) : entry.content) : undefined;
  return new Promise((resolve, reject) => {
    const callback = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body) pack.entry(tarHeader(entry), body, callback);
    else pack.entry(tarHeader(entry), callback);
  });
}

/** Passes bytes through and counts/hashes them. */
class Measure extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

interface Compressor {
  stage: Duplex | Transform;
  /** settles when the compressor has exited (for an external program) */
  done: Promise<void>;
}

/** `zstd` as a stream stage; a non-zero exit fails the layer. */
function zstdStage(level: number): Compressor {
  const child = spawn('zstd', ['-q', '-c', `-${level}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s.slice(0, 4096)));
  const stage = Duplex.from({ writable: child.stdin, readable: child.stdout });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`zstd exited with ${code}: ${stderr}`))));
  });
  done.catch((err: Error) => stage.destroy(err));
  return { stage, done };
}

function compressor(compression: Compression, level?: number): Compressor | undefined {
  if (compression === 'gzip') return { stage: createGzip({ level: level ?? 6 }), done: Promise.resolve() };
  if (compression === 'zstd') return zstdStage(level ?? 3);
  return undefined;
}

export function layerMediaType(compression: Compression, style: ManifestStyle): string {
  if (style === 'docker') {
    if (compression !== 'gzip') throw new Error(`docker schema 2 has no ${compression} layer media type in these fixtures`);
    return MEDIA_TYPES.dockerLayerGzip;
  }
  return compression === 'gzip' ? MEDIA_TYPES.ociLayerGzip : compression === 'zstd' ? MEDIA_TYPES.ociLayerZstd : MEDIA_TYPES.ociLayerTar;
}

let tempCounter = 0;

/** An OCI image layout being written in `dir`. */
export class LayoutWriter {
  private readonly refs: Descriptor[] = [];

  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  }

  /** Copies a layer already written in another layout (same bytes, same digest, no recompression). */
  importLayer(layer: Layer): Layer {
    const path = this.blobPath(layer.digest);
    if (!existsSync(path)) copyFileSync(layer.path, path);
    return { ...layer, path };
  }

  /** Stores bytes as a blob and returns its descriptor. */
  addBlob(bytes: Buffer | string, mediaType: string): Descriptor {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
    writeFileSync(this.blobPath(digest), data);
    return { mediaType, digest, size: data.length };
  }

  addJson(value: unknown, mediaType: string): Descriptor {
    return this.addBlob(JSON.stringify(value), mediaType);
  }

  /**
   * Writes a layer: `produce` adds entries to the tar (with packEntry), the
   * tar is hashed for the diff_id, compressed, hashed again and stored.
   */
  async addLayer(compression: Compression, produce: (pack: Pack) => Promise<void>, level?: number): Promise<Layer> {
    const pack = tar.pack();
    const tarMeasure = new Measure();
    const blobMeasure = new Measure();
    const temp = join(this.dir, `.layer-${process.pid}-${tempCounter++}`);
    const stages: (Readable | Duplex | Writable)[] = [pack as unknown as Readable, tarMeasure];
    const compress = compressor(compression, level);
    if (compress) stages.push(compress.stage);
    stages.push(blobMeasure, createWriteStream(temp));
    const producing = produce(pack).then(
      () => pack.finalize(),
      (err: Error) => {
        pack.destroy(err);
        throw err;
      },
    );
    try {
      await Promise.all([producing, pipeline(stages as [Readable, ...Duplex[], Writable]), compress?.done]);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    const digest = 'sha256:' + blobMeasure.hash.digest('hex');
    const path = this.blobPath(digest);
    renameSync(temp, path);
    return {
      compression,
      digest,
      size: blobMeasure.bytes,
      diffId: 'sha256:' + tarMeasure.hash.digest('hex'),
      tarSize: tarMeasure.bytes,
      path,
    };
  }

  /** A layer from a list of entries. */
  addLayerEntries(compression: Compression, entries: Entry[]): Promise<Layer> {
    return this.addLayer(compression, async (pack) => {
      for (const entry of entries) await packEntry(pack, entry);
    });
  }

  /**
   * Writes an image config and manifest. `config` is merged over a complete
   * default config; diff_ids are computed from the layers unless given.
   */
  addImage(options: {
    layers: Layer[];
    style?: ManifestStyle;
    platform?: Platform;
    config?: Partial<ImageConfigDetails>;
    diffIds?: string[];
    history?: { created_by: string; comment?: string; empty_layer?: boolean }[];
    created?: string;
  }): { manifest: Descriptor; config: Descriptor; manifestBytes: Buffer } {
    const style = options.style ?? 'oci';
    const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
    const created = options.created ?? FIXTURE_MTIME.toISOString();
    const configJson = {
      created,
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      os: platform.os,
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['/bin/sh'],
        WorkingDir: '/',
        Labels: { 'org.tsbox.fixture': 'true' },
        ...options.config,
      },
      rootfs: { type: 'layers', diff_ids: options.diffIds ?? options.layers.map((l) => l.diffId) },
      history: (options.history ?? options.layers.map((_, i) => ({ created_by: `tsbox fixture layer ${i + 1}` }))).map((h) => ({
        created,
        ...h,
      })),
    };
    const config = this.addJson(configJson, style === 'oci' ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig);
    const manifestJson = {
      schemaVersion: 2,
      mediaType: style === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
      config,
      layers: options.layers.map((l) => ({ mediaType: layerMediaType(l.compression, style), digest: l.digest, size: l.size })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifestJson));
    const manifest = this.addBlob(manifestBytes, manifestJson.mediaType);
    return { manifest: { ...manifest, platform }, config, manifestBytes };
  }

  /** Writes an OCI index or a docker manifest list over image manifests (each with its platform). */
  addIndex(manifests: Descriptor[], style: ManifestStyle = 'oci'): Descriptor {
    const mediaType = style === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerList;
    return this.addJson({ schemaVersion: 2, mediaType, manifests }, mediaType);
  }

  /** Names `descriptor` as `tag` in index.json (org.opencontainers.image.ref.name). */
  tag(tag: string, descriptor: Descriptor): void {
    const { platform: _platform, ...plain } = descriptor;
    this.refs.push({ ...plain, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }

  /** Writes oci-layout and index.json; the layout is complete afterwards. */
  finish(): void {
    writeFileSync(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: this.refs }),
    );
  }
}

/** Where a test registry is reachable: a TestRegistry or its `host`. */
/** A registry to push to; `credentials` for one that requires basic auth. */
export type RegistryLike = string | { host: string; credentials?: { username: string; password: string } };

export function registryHost(registry: RegistryLike): string {
  return typeof registry === 'string' ? registry : registry.host;
}

let policyFile: string | undefined;

/** skopeo refuses to run without a signature policy; ours accepts everything, for loopback tests only. */
export function skopeoPolicy(dir: string): string {
  if (policyFile && existsSync(policyFile)) return policyFile;
  policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return policyFile;
}

/** The descriptor index.json names `tag` with. */
export function taggedDescriptor(layoutDir: string, tag: string): Descriptor {
  const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const found = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!found) throw new Error(`${layoutDir}: no image tagged ${tag}`);
  return found;
}

/**
 * skopeo's oci: transport only reads OCI media types from index.json, so a
 * docker schema 2 image or manifest list is handed to it in its dir:
 * transport instead: manifest.json, <hex>.manifest.json per instance, and
 * every other blob as <hex> (hard links into the layout, no copies).
 */
export function dirTransportCopy(layoutDir: string, top: Descriptor, dest: string): void {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  const blob = (digest: string) => join(layoutDir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  const hex = (digest: string) => digest.replace(/^sha256:/, '');
  const linkBlob = (digest: string, name: string) => {
    if (!existsSync(join(dest, name))) linkSync(blob(digest), join(dest, name));
  };
  writeFileSync(join(dest, 'version'), 'Directory Transport Version: 1.1\n');
  linkBlob(top.digest, 'manifest.json');
  const parsed = JSON.parse(readFileSync(blob(top.digest), 'utf8'));
  const images: { digest: string; parsed: { config: Descriptor; layers: Descriptor[] } }[] = [];
  if (Array.isArray(parsed.manifests)) {
    for (const m of parsed.manifests as Descriptor[]) {
      linkBlob(m.digest, `${hex(m.digest)}.manifest.json`);
      images.push({ digest: m.digest, parsed: JSON.parse(readFileSync(blob(m.digest), 'utf8')) });
    }
  } else {
    images.push({ digest: top.digest, parsed });
  }
  for (const image of images) {
    for (const d of [image.parsed.config, ...image.parsed.layers]) linkBlob(d.digest, hex(d.digest));
  }
}

/**
 * Pushes the image tagged `tag` in a layout to `docker://HOST/REPOSITORY:TAG`
 * with digests preserved (skopeo fails rather than re-compress or rewrite a
 * manifest), and `--all` so an index or manifest list goes with all its images.
 */
export async function pushLayout(
  layoutDir: string,
  tag: string,
  registry: RegistryLike,
  repository: string,
  destTag = tag,
  timeoutMs = 300_000,
): Promise<string> {
  const reference = `${registryHost(registry)}/${repository}:${destTag}`;
  const top = taggedDescriptor(layoutDir, tag);
  let source = `oci:${layoutDir}:${tag}`;
  if (top.mediaType.startsWith('application/vnd.docker.')) {
    const dir = `${layoutDir}.dir-${tag}`;
    if (!existsSync(join(dir, 'manifest.json'))) dirTransportCopy(layoutDir, top, dir);
    source = `dir:${dir}`;
  }
  const args = [
    '--policy', skopeoPolicy(join(layoutDir, '..')),
    'copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false',
    ...(typeof registry !== 'string' && registry.credentials
      ? ['--dest-creds', `${registry.credentials.username}:${registry.credentials.password}`]
      : []),
    source, `docker://${reference}`,
  ];
  const result = await runProgram('skopeo', args, { timeoutMs });
  if (result.code !== 0) throw new Error(`skopeo ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  return reference;
}

/** True when `path` exists and is a non-empty layout (index.json written last). */
export function layoutComplete(path: string): boolean {
  return existsSync(join(path, 'index.json')) && statSync(join(path, 'index.json')).size > 0;
}
