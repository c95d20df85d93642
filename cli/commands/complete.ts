// `tsbox __complete KIND [PREFIX]`: the live names the shell completions
// offer, one a line. Called on every Tab, so it reads the store's files
// directly (node:fs only): no registry client, no tar, no helper, no lock.
import { Option } from 'clipanion';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BaseCommand } from '../base.js';
import { storeRoot } from '../../core/paths.js';
import { processStartTime } from '../../core/store/owner.js';

export const COMPLETION_KINDS = ['images', 'containers', 'running-containers', 'volumes'] as const;
type Kind = (typeof COMPLETION_KINDS)[number];

const ID = /^[0-9a-f]{64}$/;

async function readDir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch {
    return [];
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** `docker.io/library/alpine:latest` is also offered as `alpine:latest`, as users type it. */
function familiar(name: string): string[] {
  if (name.startsWith('docker.io/library/')) return [name, name.slice('docker.io/library/'.length)];
  if (name.startsWith('docker.io/')) return [name, name.slice('docker.io/'.length)];
  return [name];
}

async function imageNames(root: string): Promise<string[]> {
  const names: string[] = [];
  for (const id of await readDir(join(root, 'images'))) {
    if (!ID.test(id)) continue;
    const record = await readJson<{ names?: unknown }>(join(root, 'images', id, 'image.json'));
    if (!Array.isArray(record?.names)) continue;
    for (const name of record.names) if (typeof name === 'string') names.push(...familiar(name));
  }
  return names;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Recorded as running, and its monitor is still that process (the reconciler's test, without writing). */
async function isRunning(containerDir: string): Promise<boolean> {
  const state = await readJson<{ Status?: string; MonitorPid?: number; MonitorStart?: string; BootId?: string }>(join(containerDir, 'state.json'));
  if (state?.Status !== 'running' || typeof state.MonitorPid !== 'number' || !state.MonitorStart) return false;
  if (state.BootId && state.BootId !== bootId()) return false;
  return state.MonitorPid > 0 && processStartTime(state.MonitorPid) === state.MonitorStart;
}

/** Container names from containers/names/, each claim checked against its container's directory. */
async function containerNames(root: string, runningOnly: boolean): Promise<string[]> {
  const dir = join(root, 'containers');
  const names: string[] = [];
  for (const name of await readDir(join(dir, 'names'))) {
    let id: string;
    try {
      id = (await fs.readFile(join(dir, 'names', name), 'utf8')).trim();
    } catch {
      continue;
    }
    if (!ID.test(id)) continue;
    try {
      await fs.access(join(dir, id, 'config.json'));
    } catch {
      continue; // a stale claim: the container is gone
    }
    if (runningOnly && !(await isRunning(join(dir, id)))) continue;
    names.push(name);
  }
  return names;
}

async function volumeNames(root: string): Promise<string[]> {
  const names: string[] = [];
  for (const name of await readDir(join(root, 'volumes'))) {
    if (name.startsWith('.')) continue; // the lock, temporary entries
    try {
      await fs.access(join(root, 'volumes', name, 'volume.json'));
      names.push(name);
    } catch {
      // not a volume (yet)
    }
  }
  return names;
}

/** The candidates of one kind that start with `prefix`, without duplicates. */
export async function completionCandidates(kind: Kind, prefix = '', root = storeRoot()): Promise<string[]> {
  let names: string[];
  if (kind === 'images') names = await imageNames(root);
  else if (kind === 'volumes') names = await volumeNames(root);
  else names = await containerNames(root, kind === 'running-containers');
  return [...new Set(names.filter((name) => name.startsWith(prefix)))];
}

export class CompleteCommand extends BaseCommand {
  static override paths = [['__complete']];
  // no usage: clipanion leaves it out of its definitions, and so do help, the man pages and the completions
  static override usage = undefined;

  kind = Option.String({ name: 'KIND' });
  prefix = Option.String({ name: 'PREFIX', required: false });

  async execute(): Promise<number> {
    // a completion never fails loudly: an unknown kind or an unreadable store offers nothing
    if (!(COMPLETION_KINDS as readonly string[]).includes(this.kind)) return 1;
    const names = await completionCandidates(this.kind as Kind, this.prefix ?? '').catch(() => []);
    this.context.stdout.write(names.map((name) => `${name}\n`).join(''));
    return 0;
  }
}
