// One layer of a pull: download (resuming a partial download a killed pull
// left behind), verify by digest while streaming, unpack while downloading,
// check the diff id, then commit. Nothing reaches layers/ before all checks pass.
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { TsboxError } from '../errors.js';
import type { Reporter } from '../progress.js';
import { RegistryUnreachableError, verifyDigest, type Descriptor, type RegistryClient } from '../registry/index.js';
import type { ImageStore } from '../store/index.js';
import { isOwnerAlive, ownerFromName, ownerSuffix } from '../store/owner.js';
import { LayerCorruptError, unpackLayer } from '../unpack/unpack.js';

export interface LayerJob {
  store: ImageStore;
  client: RegistryClient;
  repository: string;
  descriptor: Descriptor;
  diffId: string;
  chainId: string;
  parent: string | null;
  /** Settles when the layer below is committed (a layer's record names its parent). */
  below: Promise<void>;
  helper: string;
  canChown: boolean;
  reporter: Reporter;
}

/** The 12 hex digits podman shows for a blob. */
export function shortDigest(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}

const MAX_SMALL_BLOB = 16 * 1024 * 1024;
const PARTIAL_BATCH_BYTES = 4 * 1024 * 1024;

/** A config (or other small blob) fetched whole and verified. */
export async function fetchSmallBlob(client: RegistryClient, repository: string, descriptor: Descriptor, what: string): Promise<Buffer> {
  if (descriptor.size > MAX_SMALL_BLOB) throw new TsboxError(`${what}: ${descriptor.size} bytes is more than tsbox accepts for a config`);
  const stream = (await client.fetchBlob(repository, descriptor)).pipe(verifyDigest(descriptor));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function pullLayer(job: LayerJob): Promise<void> {
  const { store, descriptor, reporter } = job;
  const id = shortDigest(descriptor.digest);
  if (await store.hasLayer(job.chainId)) {
    reporter.finish(id, 'Already exists');
    return;
  }
  reporter.start(id, 'blob', descriptor.size);
  const partial = await adoptPartialDownload(store.layout.downloadsDir, descriptor.digest);
  const workDir = await store.newLayerWorkDir();
  let keepPartial = true;
  try {
    const source = Readable.from(downloadWithPartial(job, partial, (bytes) => reporter.progress(id, bytes)));
    const verifier = verifyDigest(descriptor);
    source.on('error', (err) => verifier.destroy(err));
    const verified = source.pipe(verifier);
    const verifiedEnd = finished(verifier);
    verifiedEnd.catch(() => {});
    let result;
    try {
      result = await unpackLayer(verified, {
        destination: join(workDir, 'diff'),
        canChown: job.canChown,
        reporter,
        helper: job.helper,
        layerDigest: descriptor.digest,
      });
      // The tar may end before the blob does (padding): the digest covers every byte.
      verified.resume();
      await verifiedEnd;
    } finally {
      source.destroy();
    }
    if (result.diffId !== job.diffId) {
      throw new LayerCorruptError(
        `layer ${descriptor.digest}: its content has diff id ${result.diffId} but the image config says ${job.diffId}: the image is corrupt or was tampered with`,
      );
    }
    await job.below;
    const outcome = await store.commitLayer(workDir, {
      diffId: job.diffId,
      chainId: job.chainId,
      parent: job.parent,
      compressedDigest: descriptor.digest,
      size: result.size,
    });
    keepPartial = false;
    reporter.finish(id, outcome === 'exists' ? 'Already exists' : 'done');
  } catch (err) {
    // A broken connection's bytes are kept to resume; after any other failure they are worth nothing.
    if (!(err instanceof RegistryUnreachableError)) keepPartial = false;
    throw err;
  } finally {
    await fs.rm(workDir, { recursive: true, force: true }).catch(() => {});
    if (!keepPartial) await fs.rm(partial.path, { force: true }).catch(() => {});
  }
}

interface PartialDownload {
  /** downloads/<hex>.partial.<pid>.<start time>: ours while we live. */
  path: string;
  /** Bytes already there. */
  size: number;
}

/**
 * Takes over a partial download of this blob left by a process that died
 * (rename is atomic, so of two pulls only one adopts it), or starts a new one.
 */
async function adoptPartialDownload(dir: string, digest: string): Promise<PartialDownload> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const hex = digest.slice(digest.indexOf(':') + 1);
  const path = join(dir, `${hex}.partial.${ownerSuffix()}`);
  for (const name of await fs.readdir(dir)) {
    if (!name.startsWith(`${hex}.partial.`)) continue;
    const owner = ownerFromName(name);
    if (!owner || isOwnerAlive(owner)) continue;
    try {
      await fs.rename(join(dir, name), path);
      const { size } = await fs.stat(path);
      return { path, size };
    } catch {
      // another pull adopted it first
    }
  }
  await fs.writeFile(path, '', { mode: 0o600 });
  return { path, size: 0 };
}

/** The blob's bytes: first what a previous pull saved, then the rest from the registry, saved as it comes. */
async function* downloadWithPartial(job: LayerJob, partial: PartialDownload, onProgress: (bytes: number) => void): AsyncGenerator<Buffer> {
  let done = 0;
  if (partial.size > 0) {
    job.reporter.debug(`resuming ${job.descriptor.digest} at byte ${partial.size}`);
    for await (const chunk of createReadStream(partial.path, { end: partial.size - 1 })) {
      done += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    onProgress(done);
  }
  if (partial.size >= job.descriptor.size) return; // all here already: the verifier decides
  const remote = await job.client.fetchBlob(job.repository, job.descriptor, { offset: partial.size });
  const out = await fs.open(partial.path, 'a');
  // Saved in batches: one write per few MiB instead of one per network chunk.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const batch = pending;
    pending = [];
    pendingBytes = 0;
    await out.writev(batch);
  };
  try {
    for await (const chunk of remote) {
      pending.push(chunk as Buffer);
      pendingBytes += (chunk as Buffer).length;
      if (pendingBytes >= PARTIAL_BATCH_BYTES) await flush();
      done += (chunk as Buffer).length;
      onProgress(done);
      yield chunk as Buffer;
    }
  } finally {
    await flush().catch(() => {});
    await out.close();
    remote.destroy();
  }
}
