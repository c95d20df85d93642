// The containers a command acts on, from its arguments, --all or --latest,
// each with the text the command prints for it (podman prints a container as
// the user named it, and the full id for --all and --latest).
import { TsboxError } from '../errors.js';
import type { ContainerStore } from '../runtime/containers.js';
import { latestContainer, resolveContainer } from './lookup.js';
import { isActive, readState } from './state.js';

export interface Target {
  /** what to print: the name or id as given, or the full id */
  shown: string;
  /** the full id, or undefined when the argument named no container */
  id?: string;
  /** why the argument named no container */
  error?: Error;
}

export interface TargetOptions {
  all?: boolean;
  latest?: boolean;
  /** with --all: only the containers with a process (stop, kill) */
  activeOnly?: boolean;
}

/** podman's rule: either names, or --all, or --latest. */
export function checkTargetArgs(names: string[], options: TargetOptions, what = 'container'): void {
  const chosen = (names.length > 0 ? 1 : 0) + (options.all ? 1 : 0) + (options.latest ? 1 : 0);
  if (chosen > 1) throw new TsboxError('--all, --latest, and containers cannot be used together');
  if (chosen === 0) throw new TsboxError(`you must provide at least one ${what} name or ID`);
}

export async function resolveTargets(containers: ContainerStore, names: string[], options: TargetOptions = {}): Promise<Target[]> {
  if (options.latest) {
    const id = await latestContainer(containers);
    return [{ shown: id, id }];
  }
  if (options.all) {
    const records = await containers.list();
    records.sort((a, b) => (a.Created < b.Created ? 1 : a.Created > b.Created ? -1 : 0));
    const out: Target[] = [];
    for (const record of records) {
      if (options.activeOnly && !isActive(await readState(containers, record.Id))) continue;
      out.push({ shown: record.Id, id: record.Id });
    }
    return out;
  }
  return Promise.all(
    names.map(async (name): Promise<Target> => {
      try {
        return { shown: name, id: await resolveContainer(containers, name) };
      } catch (err) {
        return { shown: name, error: err as Error };
      }
    }),
  );
}
