// `tsbox diff CONTAINER`: what the container changed in its filesystem,
// read from its writable layer (upper/) against the image's layers, as
// podman reports it: A added, C changed, D deleted, sorted by path. The same
// for running and stopped containers: upper/ is a plain directory on the
// host either way. The walk runs in diff-worker.ts, as root in the store's
// user namespace (upper/ may hold 0700 directories of the container's users).
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { TsboxError } from '../errors.js';
import { openStore } from '../store/index.js';
import { runInUserNamespace } from '../userns/helper.js';
import { currentMapping } from '../userns/mapping.js';
import { ContainerNotFoundError, type ContainerStore } from '../runtime/containers.js';
import { writtenByFuse } from '../runtime/overlay.js';

const WORKER = fileURLToPath(new URL('./diff-worker.js', import.meta.url));

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  kind: ChangeKind;
  path: string;
}

/**
 * What every container's run puts in its upper layer (mount points of
 * /etc/hosts and the like): podman's diff leaves these out, and so do we.
 */
const INIT_PATHS = new Set(['/dev', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/proc', '/run', '/run/notify', '/run/.containerenv', '/run/secrets', '/sys', '/etc/mtab']);

/** The container's changes, sorted by path. */
export async function containerChanges(containers: ContainerStore, id: string): Promise<Change[]> {
  const record = await containers.read(id);
  if (!record) throw new ContainerNotFoundError(`no container with name or ID "${id}" found: no such container`);
  const spec = record.Spec;
  if (spec.root.rootfs) {
    throw new TsboxError('diff of a --rootfs container is not supported: it has no image layers to compare with');
  }
  const mapping = currentMapping();
  const store = await openStore({ mapping: { uids: mapping.uids, gids: mapping.gids } });
  const lowers = (spec.root.layers ?? []).map((chainId) => join(store.layout.layersDir, chainId.replace(/^sha256:/, ''), 'diff')).reverse();
  const upper = containers.paths(id).upper;
  const fuse = writtenByFuse(containers.paths(id).dir) ? ['--fuse-overlayfs'] : [];
  const result = await runInUserNamespace(process.execPath, [WORKER, ...fuse, upper, ...lowers], { mapping });
  if (result.exitCode !== 0) {
    throw new TsboxError(`reading the changes of container ${id.slice(0, 12)}: ${result.stderr.trim().split('\n').pop() || `status ${result.exitCode}`}`);
  }
  const changes: Change[] = [];
  for (const line of result.stdout.split('\n')) {
    if (line === '') continue;
    const change = JSON.parse(line) as Change;
    if (!INIT_PATHS.has(change.path)) changes.push(change);
  }
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** podman's `--format json`: the paths by kind, kinds without any left out. */
export function changesJson(changes: Change[]): { changed?: string[]; added?: string[]; deleted?: string[] } {
  const pick = (kind: ChangeKind) => changes.filter((c) => c.kind === kind).map((c) => c.path);
  const out: { changed?: string[]; added?: string[]; deleted?: string[] } = {};
  const [changed, added, deleted] = [pick('C'), pick('A'), pick('D')];
  if (changed.length > 0) out.changed = changed;
  if (added.length > 0) out.added = added;
  if (deleted.length > 0) out.deleted = deleted;
  return out;
}
