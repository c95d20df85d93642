// Builds images in a store with the store's own API, from real files: each
// layer is a directory holding one file, its "diff id" the sha256 of a string
// that names it. Not a registry's data, but the store cannot tell.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chainIds, sha256Digest, type ImageRecord, type ImageStore, type StoreMapping } from '../../../core/store/index.js';

export const TEST_MAPPING: StoreMapping = {
  uids: [{ inside: 0, outside: 1001, count: 1 }],
  gids: [{ inside: 0, outside: 1001, count: 1 }],
};

export interface FakeImage {
  /** full names, e.g. docker.io/library/alpine:latest */
  names?: string[];
  /** one string per layer: the layer holds a file with this content, and its diff id derives from it */
  layers: string[];
  created?: string;
  architecture?: string;
  labels?: Record<string, string>;
}

export async function addFakeImage(store: ImageStore, image: FakeImage): Promise<ImageRecord> {
  const diffIds = image.layers.map((content) => sha256Digest(`layer:${content}`));
  const chain = chainIds(diffIds);
  let size = 0;
  for (const [i, content] of image.layers.entries()) {
    const layerSize = 1000 * (content.length + 1);
    size += layerSize;
    if (await store.hasLayer(chain[i]!)) continue;
    const work = await store.newLayerWorkDir();
    writeFileSync(join(work, 'diff', `file-${i}`), content);
    await store.commitLayer(work, { diffId: diffIds[i]!, chainId: chain[i]!, parent: i === 0 ? null : chain[i - 1]!, size: layerSize });
  }
  const created = image.created ?? '2024-01-02T03:04:05Z';
  const config = {
    created,
    architecture: image.architecture ?? 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], Labels: image.labels ?? {} },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: image.layers.map((content) => ({ created, created_by: `ADD ${content} /` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256Digest(configBytes);
  await store.writeBlob(configDigest, configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBytes.length },
    layers: diffIds.map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d, size: 1000 })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = sha256Digest(manifestBytes);
  await store.writeBlob(manifestDigest, manifestBytes);
  const names = image.names ?? [];
  return store.commitImage({
    id: configDigest.slice('sha256:'.length),
    digest: manifestDigest,
    repoDigests: [...new Set(names.map((n) => `${n.slice(0, n.lastIndexOf(':'))}@${manifestDigest}`))],
    names,
    manifestDigest,
    configDigest,
    layers: chain,
    diffIds,
    created,
    architecture: config.architecture,
    os: 'linux',
    size,
    pulledAt: new Date().toISOString(),
  });
}
