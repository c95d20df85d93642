// `system df`: what the images, containers and volumes take on disk, as
// podman reports it. Sizes are disk usage (du's: blocks, each inode once):
// an image's layers are counted once however many images share them.
import { join } from 'node:path';
import type { ImageStore } from '../store/index.js';
import { loadContainers, userMounts } from '../container/list.js';
import { isActive } from '../container/state.js';
import type { ContainerStore } from '../runtime/containers.js';
import type { VolumeStore } from '../volume/volumes.js';
import { diskUsage } from './usage.js';

export interface ImageUsage {
  id: string;
  /** the first name, or none for a dangling image */
  name: string | undefined;
  created: string;
  /** every layer's disk usage */
  size: number;
  /** of which layers other images use too */
  sharedSize: number;
  uniqueSize: number;
  /** containers made from it, running or not */
  containers: number;
}

export interface ContainerUsage {
  id: string;
  imageId: string;
  command: string;
  localVolumes: number;
  /** the writable layer's disk usage */
  size: number;
  created: string;
  status: string;
  running: boolean;
  name: string;
}

export interface VolumeUsage {
  name: string;
  /** containers using it */
  links: number;
  size: number;
}

export interface DiskUsageReport {
  images: ImageUsage[];
  /** all layers' disk usage, each counted once */
  imagesSize: number;
  /** disk usage of the layers only images without containers use: what `prune -a` would free */
  imagesReclaimable: number;
  containers: ContainerUsage[];
  volumes: VolumeUsage[];
}

/** One line of the summary table; podman's dfSummary. */
export interface DfSummary {
  Type: 'Images' | 'Containers' | 'Local Volumes';
  Total: number;
  Active: number;
  RawSize: number;
  RawReclaimable: number;
}

export async function systemDiskUsage(stores: { images: ImageStore; containers: ContainerStore; volumes: VolumeStore }): Promise<DiskUsageReport> {
  const [images, entries, volumes] = await Promise.all([stores.images.listImages(), loadContainers(stores.containers), stores.volumes.list()]);
  const layerDirs = new Map<string, string>();
  for (const image of images) for (const chainId of image.layers) layerDirs.set(chainId, join(stores.images.layout.layersDir, chainId.slice(7)));
  const volumeDirs = volumes.map((v) => join(stores.volumes.root, v.Name));
  const upperDirs = entries.map((e) => stores.containers.paths(e.record.Id).upper);
  const sizes = await diskUsage([...layerDirs.values(), ...upperDirs, ...volumeDirs]);

  const layerUsers = new Map<string, number>();
  for (const image of images) for (const chainId of new Set(image.layers)) layerUsers.set(chainId, (layerUsers.get(chainId) ?? 0) + 1);
  const containersOf = new Map<string, number>();
  for (const e of entries) containersOf.set(e.record.Image, (containersOf.get(e.record.Image) ?? 0) + 1);
  const layerSize = (chainId: string) => sizes.get(layerDirs.get(chainId)!) ?? 0;

  const imageUsage = images.map((image): ImageUsage => {
    let size = 0;
    let sharedSize = 0;
    for (const chainId of new Set(image.layers)) {
      size += layerSize(chainId);
      if ((layerUsers.get(chainId) ?? 0) > 1) sharedSize += layerSize(chainId);
    }
    return { id: image.id, name: image.names[0], created: image.created, size, sharedSize, uniqueSize: size - sharedSize, containers: containersOf.get(image.id) ?? 0 };
  });
  const activeLayers = new Set(images.filter((i) => containersOf.has(i.id)).flatMap((i) => i.layers));
  let imagesSize = 0;
  let imagesReclaimable = 0;
  for (const chainId of layerDirs.keys()) {
    imagesSize += layerSize(chainId);
    if (!activeLayers.has(chainId)) imagesReclaimable += layerSize(chainId);
  }

  const volumesRoot = stores.volumes.root;
  const users = await stores.containers.volumesInUse(volumesRoot);
  const containerUsage = entries.map(({ record, state }): ContainerUsage => ({
    id: record.Id,
    imageId: record.Image,
    command: (record.Spec?.process.args ?? []).join(' '),
    localVolumes: userMounts(stores.containers, record).filter((m) => m.type === 'volume').length,
    size: sizes.get(stores.containers.paths(record.Id).upper) ?? 0,
    created: record.Created,
    status: state.Status,
    running: isActive(state),
    name: record.Name,
  }));
  const volumeUsage = volumes.map((v): VolumeUsage => ({ name: v.Name, links: users.get(v.Name)?.length ?? 0, size: sizes.get(join(volumesRoot, v.Name)) ?? 0 }));
  return { images: imageUsage, imagesSize, imagesReclaimable, containers: containerUsage, volumes: volumeUsage };
}

/**
 * The three summary lines, as podman computes them: active images are those
 * containers were made from, active containers those running, and a
 * volume's links count towards active volumes; reclaimable is what removing
 * the inactive ones frees.
 */
export function summarize(report: DiskUsageReport): DfSummary[] {
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return [
    {
      Type: 'Images',
      Total: report.images.length,
      Active: report.images.filter((i) => i.containers > 0).length,
      RawSize: report.imagesSize,
      RawReclaimable: report.imagesReclaimable,
    },
    {
      Type: 'Containers',
      Total: report.containers.length,
      Active: report.containers.filter((c) => c.running).length,
      RawSize: sum(report.containers.map((c) => c.size)),
      RawReclaimable: sum(report.containers.filter((c) => !c.running).map((c) => c.size)),
    },
    {
      Type: 'Local Volumes',
      Total: report.volumes.length,
      Active: sum(report.volumes.map((v) => v.links)),
      RawSize: sum(report.volumes.map((v) => v.size)),
      RawReclaimable: sum(report.volumes.filter((v) => v.links === 0).map((v) => v.size)),
    },
  ];
}

/** go-units HumanSize (4 significant digits, decimal units, no space): "2.038MB", "0B". */
export function dfSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${units[unit]}`;
}

/** podman's RECLAIMABLE column: "168MB (59%)". */
export function dfReclaimable(s: DfSummary): string {
  const percent = s.RawSize === 0 ? 0 : Math.round((s.RawReclaimable / s.RawSize) * 100);
  return `${dfSize(s.RawReclaimable)} (${percent}%)`;
}
