// The containers as `ps`, `inspect`, `port` and `prune` see them: each record
// with its reconciled state (a dead monitor shows as exited), read in
// parallel and never through a child process, so that listing a hundred
// containers stays quick. Podman's `ps --filter` rules live here too.
import { join } from 'node:path';
import { TsboxError } from '../errors.js';
import { storeRoot } from '../paths.js';
import { parsePublishList, type PortMapping } from '../network/publish.js';
import { isActive, readState, type ContainerState, type ContainerStatus } from './state.js';
import type { ContainerStore } from '../runtime/containers.js';
import type { ContainerRecord, Mount } from '../runtime/spec.js';

export interface ContainerEntry {
  record: ContainerRecord;
  state: ContainerState;
}

/** One container's record and reconciled state; undefined when it is gone. */
export async function loadContainer(containers: ContainerStore, id: string): Promise<ContainerEntry | undefined> {
  const [record, state] = await Promise.all([containers.read(id), readState(containers, id).catch(() => undefined)]);
  return record && state ? { record, state } : undefined;
}

/** Every container, newest first. */
export async function loadContainers(containers: ContainerStore, options: { where?: (state: ContainerState) => boolean } = {}): Promise<ContainerEntry[]> {
  const entries = await Promise.all(
    (await containers.ids()).map(async (id) => {
      const state = await readState(containers, id).catch(() => undefined);
      // `where` first: ps without -a reads the records of running containers only
      if (!state || (options.where && !options.where(state))) return undefined;
      const record = await containers.read(id);
      return record ? { record, state } : undefined;
    }),
  );
  return entries.filter((e): e is ContainerEntry => e !== undefined).sort(newestFirst);
}

function newestFirst(a: ContainerEntry, b: ContainerEntry): number {
  return a.record.Created < b.record.Created ? 1 : a.record.Created > b.record.Created ? -1 : 0;
}

/** The container's labels (records written before labels existed have none). */
export function containerLabels(record: ContainerRecord): Record<string, string> {
  return (record as ContainerRecord & { Labels?: Record<string, string> }).Labels ?? {};
}

/**
 * Published ports: with the host ports assigned while it runs (from its
 * network backend's state), else as requested by `-p`.
 */
export function containerPorts(entry: ContainerEntry): PortMapping[] {
  if (isActive(entry.state) && entry.state.Network) return entry.state.Network.ports;
  try {
    return parsePublishList(entry.record.Spec?.network?.ports ?? []);
  } catch {
    return [];
  }
}

export interface UserMount {
  /** 'bind' or 'volume' */
  type: 'bind' | 'volume';
  /** the volume's name for a volume */
  name: string;
  source: string;
  destination: string;
  readOnly: boolean;
  options: string[];
}

/**
 * The mounts the user asked for (-v, --mount): not /proc, /dev, /sys, the
 * tmpfs mounts, nor the /etc files bound from userdata/ — as podman lists them.
 */
export function userMounts(containers: ContainerStore, record: ContainerRecord): UserMount[] {
  const userdata = `${containers.paths(record.Id).userdata}/`;
  const volumes = `${join(storeRoot(), 'volumes')}/`;
  return (record.Spec?.mounts ?? [])
    .filter((m: Mount) => m.type === 'bind' && !m.source.startsWith(userdata))
    .map((m) => {
      const [name, data] = m.source.startsWith(volumes) ? m.source.slice(volumes.length).split('/') : [];
      const volume = name !== undefined && data === '_data';
      return {
        type: volume ? 'volume' : 'bind',
        name: volume ? name! : '',
        source: m.source,
        destination: m.destination,
        readOnly: m.options.includes('ro'),
        options: m.options,
      };
    });
}

const STATUSES: ContainerStatus[] = ['created', 'running', 'paused', 'stopping', 'exited'];

export class BadFilterError extends TsboxError {}

/** `--filter` values grouped by key: the same key twice is an OR, different keys an AND (podman). */
export function parseFilters(values: string[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new BadFilterError(`invalid filter ${JSON.stringify(value)}`, { hint: 'filters are KEY=VALUE' });
    const key = value.slice(0, eq);
    byKey.set(key, [...(byKey.get(key) ?? []), value.slice(eq + 1)]);
  }
  return byKey;
}

function regexps(key: string, values: string[]): RegExp[] {
  return values.map((value) => {
    try {
      return new RegExp(value);
    } catch {
      throw new BadFilterError(`invalid ${key} filter ${JSON.stringify(value)}: not a regular expression`);
    }
  });
}

/**
 * One predicate for all `--filter` values: name (a regular expression),
 * id (a prefix), status, ancestor (an image id prefix or a regular expression
 * over the image's name), label (KEY or KEY=VALUE), exited (an exit code).
 */
export function containerFilter(filters: Map<string, string[]>): (entry: ContainerEntry) => boolean {
  const tests: ((e: ContainerEntry) => boolean)[] = [];
  for (const [key, values] of filters) {
    switch (key) {
      case 'name': {
        const patterns = regexps(key, values);
        tests.push((e) => patterns.some((p) => p.test(e.record.Name)));
        break;
      }
      case 'id':
        tests.push((e) => values.some((v) => e.record.Id.startsWith(v)));
        break;
      case 'status':
        for (const v of values) {
          if (!STATUSES.includes(v as ContainerStatus)) {
            throw new BadFilterError(`${JSON.stringify(v)} is not a valid status`, { hint: `use one of ${STATUSES.join(', ')}` });
          }
        }
        tests.push((e) => values.includes(e.state.Status));
        break;
      case 'ancestor': {
        const patterns = regexps(key, values);
        tests.push((e) =>
          values.some((v, i) => {
            const id = v.startsWith('sha256:') ? v.slice(7) : v;
            return (e.record.Image !== '' && /^[0-9a-f]+$/.test(id) && e.record.Image.startsWith(id)) || patterns[i]!.test(e.record.ImageName);
          }),
        );
        break;
      }
      case 'label':
        tests.push((e) => {
          const labels = containerLabels(e.record);
          return values.some((v) => {
            const eq = v.indexOf('=');
            return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
          });
        });
        break;
      case 'exited': {
        const codes = values.map((v) => {
          if (!/^-?\d+$/.test(v)) throw new BadFilterError(`exited code out of range ${JSON.stringify(v)}`);
          return Number(v);
        });
        tests.push((e) => e.state.Status === 'exited' && codes.includes(e.state.ExitCode));
        break;
      }
      default:
        throw new BadFilterError(`${JSON.stringify(key)} is an invalid filter`, { hint: 'use name, id, status, ancestor, label or exited' });
    }
  }
  return (e) => tests.every((t) => t(e));
}

/** The containers made from image `imageId` (what `rmi` must respect), newest first. */
export async function containersUsingImage(containers: ContainerStore, imageId: string): Promise<ContainerEntry[]> {
  const records = (await containers.list()).filter((r) => r.Image === imageId);
  const entries = await Promise.all(records.map((r) => loadContainer(containers, r.Id)));
  return entries.filter((e): e is ContainerEntry => e !== undefined).sort(newestFirst);
}
