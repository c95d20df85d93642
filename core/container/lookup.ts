// Container names and ids as the user types them: a name, a full id, or an
// unambiguous id prefix (podman's rules and wording), and `--latest`. The
// store's small files are read synchronously: every container command starts
// here, and a first asynchronous file access costs ~2 ms (libuv starts its
// thread pool) for nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsboxError } from '../errors.js';
import { ContainerNotFoundError, type ContainerStore } from '../runtime/containers.js';

const HEX = /^[0-9a-f]+$/;

export function noSuchContainer(nameOrId: string): ContainerNotFoundError {
  return new ContainerNotFoundError(`no container with name or ID "${nameOrId}" found: no such container`, {
    hint: 'see `tsbox ps -a` for the containers there are',
  });
}

function containerIds(containers: ContainerStore): string[] {
  let entries: string[];
  try {
    entries = readdirSync(containers.dir);
  } catch {
    return [];
  }
  return entries.filter((e) => e.length === 64 && HEX.test(e));
}

function hasConfig(containers: ContainerStore, id: string): boolean {
  return existsSync(containers.paths(id).config);
}

/** The id of the container `nameOrId` names: its name, its full id, or a unique prefix of its id. */
export async function resolveContainer(containers: ContainerStore, nameOrId: string): Promise<string> {
  if (nameOrId === '') throw noSuchContainer(nameOrId);
  // a name first, as podman: a name that looks like an id prefix still means the name
  if (!nameOrId.includes('/')) {
    try {
      const id = readFileSync(join(containers.dir, 'names', nameOrId), 'utf8').trim();
      if (id.length === 64 && HEX.test(id) && hasConfig(containers, id)) return id;
    } catch {
      // not a name
    }
  }
  if (!HEX.test(nameOrId)) throw noSuchContainer(nameOrId);
  const matches = containerIds(containers).filter((id) => id.startsWith(nameOrId) && hasConfig(containers, id));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw noSuchContainer(nameOrId);
  throw new TsboxError(`more than one result for container "${nameOrId}": ${matches.map((m) => m.slice(0, 12)).join(', ')}`, {
    hint: 'give more characters of the id, or the name',
  });
}

/** The most recently created container (`-l`, `--latest`). */
export async function latestContainer(containers: ContainerStore): Promise<string> {
  const records = await containers.list();
  if (records.length === 0) throw new ContainerNotFoundError('no containers to act on with --latest: no such container');
  records.sort((a, b) => (a.Created < b.Created ? 1 : a.Created > b.Created ? -1 : 0));
  return records[0]!.Id;
}
