// `system prune`: stopped containers, then (with `volumes`) the volumes no
// container uses, then dangling images (with `all`: every image no container
// was made from), then the layers nothing uses any more and the dead work in
// progress. Layer files belong to mapped ids, so that last part runs as root
// of the user namespace (ns-task.ts gc); everything else runs here, where
// runtimeDir() and the monitors' exit files are the ones the containers use.
import { join } from 'node:path';
import { TsboxError } from '../errors.js';
import { containerLabels, loadContainers } from '../container/list.js';
import { removeContainer, removeLeftovers } from '../container/remove.js';
import type { ContainerStore } from '../runtime/containers.js';
import type { ImageRecord, ImageStore } from '../store/index.js';
import type { VolumeStore } from '../volume/volumes.js';
import { diskUsage } from './usage.js';

export interface PruneFilters {
  /** only what was created before this time (ns since the epoch) */
  until?: bigint;
  /** KEY or KEY=VALUE: all must match */
  labels: string[];
  /** KEY or KEY=VALUE: none may match */
  notLabels: string[];
}

export interface SystemPruneOptions {
  all: boolean;
  volumes: boolean;
  filters?: PruneFilters;
  warn?: (message: string) => void;
}

export interface Failure {
  id: string;
  error: Error;
}

export interface SystemPruneResult {
  containers: string[];
  volumes: string[];
  images: string[];
  failures: { kind: 'container' | 'volume' | 'image'; id: string; error: Error }[];
  /** bytes freed: the removed containers', volumes' and layers' disk usage */
  reclaimed: number;
}

/** `--filter` values: until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE] (podman's prune filters). */
export async function parsePruneFilters(values: string[]): Promise<PruneFilters> {
  const filters: PruneFilters = { labels: [], notLabels: [] };
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = eq > 0 ? value.slice(0, eq) : '';
    const arg = value.slice(eq + 1);
    if (key === 'until') {
      const { parseTimeOption } = await import('../container/logs.js');
      filters.until = parseTimeOption('--since', arg);
    } else if (key === 'label') filters.labels.push(arg);
    else if (key === 'label!') filters.notLabels.push(arg);
    else throw new TsboxError(`${JSON.stringify(value)} is an invalid filter`, { hint: 'system prune filters are until=TIME, label=KEY[=VALUE] and label!=KEY[=VALUE]' });
  }
  return filters;
}

function labelMatches(labels: Record<string, string>, spec: string): boolean {
  const eq = spec.indexOf('=');
  return eq < 0 ? spec in labels : labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

/** Whether something created at `created` with `labels` passes the filters. */
export function passesFilters(filters: PruneFilters | undefined, created: string, labels: Record<string, string>): boolean {
  if (!filters) return true;
  if (filters.until !== undefined) {
    const ms = Date.parse(created);
    if (Number.isNaN(ms) || BigInt(ms) * 1_000_000n >= filters.until) return false;
  }
  return filters.labels.every((l) => labelMatches(labels, l)) && !filters.notLabels.some((l) => labelMatches(labels, l));
}

async function imageLabels(store: ImageStore, image: ImageRecord): Promise<Record<string, string>> {
  try {
    const config = JSON.parse((await store.readBlob(image.configDigest)).toString('utf8')) as { config?: { Labels?: Record<string, string> | null } };
    return config.config?.Labels ?? {};
  } catch {
    return {};
  }
}

export async function systemPrune(
  stores: { images: ImageStore; containers: ContainerStore; volumes: VolumeStore },
  options: SystemPruneOptions,
): Promise<SystemPruneResult> {
  const warn = options.warn ?? (() => {});
  const filters = options.filters;
  const result: SystemPruneResult = { containers: [], volumes: [], images: [], failures: [], reclaimed: 0 };

  // containers: every one without a process, as `container prune`
  const stopped = (await loadContainers(stores.containers)).filter(
    (e) => (e.state.Status === 'exited' || e.state.Status === 'created') && passesFilters(filters, e.record.Created, containerLabels(e.record)),
  );
  const containerDirs = stopped.map((e) => stores.containers.paths(e.record.Id).dir);
  const containerSizes = await diskUsage(containerDirs);
  for (const [i, { record }] of stopped.entries()) {
    try {
      // removeContainer reads the state again and refuses a container started meanwhile
      await removeContainer(stores.containers, record.Id, { warn });
      result.containers.push(record.Id);
      result.reclaimed += containerSizes.get(containerDirs[i]!) ?? 0;
    } catch (error) {
      result.failures.push({ kind: 'container', id: record.Id, error: error as Error });
    }
  }

  // what commands killed half-way left; only when pruning everything (leftovers carry no labels or dates)
  if (!filters || (filters.until === undefined && filters.labels.length === 0 && filters.notLabels.length === 0)) await removeLeftovers(stores.containers, warn);

  // volumes no remaining container uses
  if (options.volumes) {
    const inUse = await stores.containers.volumesInUse(stores.volumes.root);
    const unused = (await stores.volumes.list()).filter((v) => !inUse.has(v.Name) && passesFilters(filters, v.CreatedAt, v.Labels));
    const dirs = unused.map((v) => join(stores.volumes.root, v.Name));
    const sizes = await diskUsage(dirs);
    for (const [i, volume] of unused.entries()) {
      try {
        await stores.volumes.remove(volume.Name);
        result.volumes.push(volume.Name);
        result.reclaimed += sizes.get(dirs[i]!) ?? 0;
      } catch (error) {
        result.failures.push({ kind: 'volume', id: volume.Name, error: error as Error });
      }
    }
  }

  // images: dangling ones (with `all`, any) that no container was made from
  const used = new Set((await stores.containers.list()).map((r) => r.Image));
  const images = await stores.images.listImages();
  const doomed: ImageRecord[] = [];
  for (const image of images) {
    if (used.has(image.id) || (!options.all && image.names.length > 0)) continue;
    if (filters && !passesFilters(filters, image.created, await imageLabels(stores.images, image))) continue;
    doomed.push(image);
  }
  const kept = new Set(images.filter((i) => !doomed.includes(i)).flatMap((i) => i.layers));
  const layerDirs = new Map<string, string>();
  for (const image of doomed) {
    for (const chainId of image.layers) if (!kept.has(chainId)) layerDirs.set(chainId, join(stores.images.layout.layersDir, chainId.slice(7)));
  }
  const layerSizes = await diskUsage([...layerDirs.values()]);
  for (const image of doomed) {
    try {
      await stores.images.removeImage(image.id);
      result.images.push(image.id);
    } catch (error) {
      result.failures.push({ kind: 'image', id: image.id, error: error as Error });
    }
  }

  // unused layers and dead work in progress, as root of the user namespace
  const { existsSync } = await import('node:fs');
  if (existsSync(stores.images.layout.layersDir) || existsSync(stores.images.layout.tmpDir)) {
    const { runNamespaceTask } = await import('./ns-run.js');
    const gc = (await runNamespaceTask('gc', [])) as { layers: string[]; failed: { path: string; reason: string }[] };
    for (const chainId of gc.layers) result.reclaimed += layerSizes.get(layerDirs.get(chainId) ?? '') ?? 0;
    for (const f of gc.failed) warn(`removing ${f.path}: ${f.reason}`);
  }
  return result;
}
