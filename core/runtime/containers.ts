// The container store, beside the image store under storeRoot():
//
//   containers/containers.lock        taken while names are claimed or released
//   containers/names/<name>           the id owning <name> (a claim; stale when its container is gone)
//   containers/<id>/config.json       ContainerRecord: metadata + the spec; its presence makes the container
//   containers/<id>/userdata/         hosts, resolv.conf, hostname bound into the container
//   containers/<id>/{upper,work,merged}/   the overlay's writable layer, work dir and mount point
//
// upper/ holds files owned by mapped ids, so removal happens inside the user
// namespace (the helper's --remove-after-exit for --rm, else runInUserNamespace).
// A separate lock from store.lock keeps `run` from waiting behind a pull's commits.
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import { randomBelow, randomHex } from '../random.js';
import { join } from 'node:path';
import { TsboxError } from '../errors.js';
import { storeRoot } from '../paths.js';
import { writeFileAtomic, writeFileRenamed } from '../store/atomic.js';
import { withLock } from '../store/lock.js';
import type { ContainerRecord } from './spec.js';

export interface ContainerPaths {
  dir: string;
  config: string;
  userdata: string;
  upper: string;
  work: string;
  merged: string;
}

export class NameInUseError extends TsboxError {}
export class ContainerNotFoundError extends TsboxError {}

/** podman's rule for container names. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ID = /^[0-9a-f]{64}$/;

// Random names as podman (and docker) make them: adjective_surname.
const ADJECTIVES = [
  'admiring', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming', 'clever',
  'cool', 'dazzling', 'determined', 'eager', 'ecstatic', 'elegant', 'epic', 'festive', 'focused', 'friendly',
  'gallant', 'gracious', 'happy', 'hopeful', 'jolly', 'keen', 'kind', 'laughing', 'loving', 'lucid',
  'magical', 'modest', 'nice', 'nifty', 'optimistic', 'peaceful', 'pensive', 'practical', 'quirky', 'relaxed',
  'serene', 'sharp', 'stoic', 'sweet', 'tender', 'trusting', 'upbeat', 'vibrant', 'wizardly', 'zealous',
];
const SURNAMES = [
  'agnesi', 'albattani', 'babbage', 'bardeen', 'bell', 'blackwell', 'bohr', 'borg', 'cannon', 'curie',
  'darwin', 'dijkstra', 'einstein', 'euler', 'faraday', 'fermat', 'feynman', 'galileo', 'goldberg', 'hamilton',
  'hawking', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth', 'lamarr', 'lovelace', 'mayer', 'mcclintock',
  'meitner', 'mendel', 'newton', 'noether', 'pasteur', 'poincare', 'ritchie', 'shannon', 'sinoussi', 'tesla',
  'thompson', 'torvalds', 'turing', 'volhard', 'wescoff', 'wiles', 'williams', 'wozniak', 'yalow', 'zhukovsky',
];

function randomName(): string {
  const pick = <T>(list: T[]) => list[randomBelow(list.length)]!;
  return `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
}

/** A new container id: 64 hex digits. */
export function newContainerId(): string {
  return randomHex(32);
}

export function validateName(name: string): void {
  if (!NAME.test(name)) {
    throw new TsboxError(`invalid container name ${JSON.stringify(name)}`, {
      hint: 'names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*',
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}

export class ContainerStore {
  readonly dir: string;
  private readonly namesDir: string;
  private readonly lockFile: string;

  constructor(root: string = storeRoot()) {
    this.dir = join(root, 'containers');
    this.namesDir = join(this.dir, 'names');
    this.lockFile = join(this.dir, 'containers.lock');
  }

  paths(id: string): ContainerPaths {
    if (!ID.test(id)) throw new TsboxError(`invalid container id ${JSON.stringify(id)}`);
    // plain concatenation: the id is hex and dir normalised, and ps asks this for every container
    const dir = `${this.dir}/${id}`;
    return {
      dir,
      config: `${dir}/config.json`,
      userdata: `${dir}/userdata`,
      upper: `${dir}/upper`,
      work: `${dir}/work`,
      merged: `${dir}/merged`,
    };
  }

  /** The id that owns `name`, when a container with that id still exists. */
  private async owner(name: string): Promise<string | undefined> {
    let id: string;
    try {
      id = (await fs.readFile(join(this.namesDir, name), 'utf8')).trim();
    } catch {
      return undefined;
    }
    if (!ID.test(id)) return undefined;
    return (await exists(this.paths(id).config)) ? id : undefined;
  }

  /**
   * Creates the container's directories and config.json, claiming its name
   * (`record.Name`, or a random one when empty) under the containers lock.
   * Returns the record as stored. `durable: false` skips the fsyncs (--rm).
   */
  async create(record: ContainerRecord, options: { durable?: boolean } = {}): Promise<{ record: ContainerRecord; paths: ContainerPaths }> {
    const paths = this.paths(record.Id);
    const write = options.durable === false ? writeFileRenamed : writeFileAtomic;
    await fs.mkdir(this.namesDir, { recursive: true, mode: 0o700 });
    const name = await withLock(this.lockFile, async () => {
      let chosen = record.Name;
      if (chosen) {
        validateName(chosen);
        const holder = await this.owner(chosen);
        if (holder) {
          throw new NameInUseError(
            `the container name "${chosen}" is already in use by ${holder}. You have to remove that container to be able to reuse that name: that name is already in use`,
          );
        }
      } else {
        for (let tries = 0; ; tries++) {
          chosen = tries < 20 ? randomName() : `${randomName()}_${randomHex(2)}`;
          if (!(await this.owner(chosen))) break;
        }
      }
      // a claim left by a container that is gone (a crash between claim and removal) is taken over
      await write(join(this.namesDir, chosen), `${record.Id}\n`, 0o600);
      await fs.mkdir(paths.dir, { mode: 0o700 });
      for (const sub of [paths.userdata, paths.upper, paths.work, paths.merged]) await fs.mkdir(sub, { mode: 0o755 });
      const stored = { ...record, Name: chosen };
      await write(paths.config, `${JSON.stringify(stored, null, 2)}\n`, 0o600);
      return chosen;
    });
    return { record: { ...record, Name: name }, paths };
  }

  async read(id: string): Promise<ContainerRecord | undefined> {
    try {
      // sync: a few KB, and ps reads hundreds; the promise API costs several thread-pool trips per file
      return JSON.parse(readFileSync(this.paths(id).config, 'utf8')) as ContainerRecord;
    } catch {
      return undefined;
    }
  }

  async list(): Promise<ContainerRecord[]> {
    const records = await Promise.all((await this.ids()).map((id) => this.read(id)));
    return records.filter((r): r is ContainerRecord => r !== undefined);
  }

  /** The ids of the container directories there are (their records are read apart). */
  async ids(): Promise<string[]> {
    try {
      // sync: ps lists the store before anything else, and a first async fs call starts libuv's thread pool
      return readdirSync(this.dir).filter((n) => ID.test(n));
    } catch {
      return [];
    }
  }

  /**
   * The named volumes containers use (bound from `<volumesRoot>/<name>/_data`),
   * each with the ids of the containers using it: what `volume rm` and
   * `volume prune` must respect.
   */
  async volumesInUse(volumesRoot: string): Promise<Map<string, string[]>> {
    const used = new Map<string, string[]>();
    const prefix = volumesRoot.endsWith('/') ? volumesRoot : `${volumesRoot}/`;
    for (const record of await this.list()) {
      for (const mount of record.Spec?.mounts ?? []) {
        if (mount.type !== 'bind' || !mount.source.startsWith(prefix)) continue;
        const [name, data] = mount.source.slice(prefix.length).split('/');
        if (!name || data !== '_data') continue;
        const ids = used.get(name) ?? [];
        if (!ids.includes(record.Id)) ids.push(record.Id);
        used.set(name, ids);
      }
    }
    return used;
  }

  /** Rewrites config.json with a new state. */
  async setState(record: ContainerRecord, state: ContainerRecord['State']): Promise<void> {
    record.State = state;
    await writeFileAtomic(this.paths(record.Id).config, `${JSON.stringify(record, null, 2)}\n`, 0o600);
  }

  /** Releases `name` if it still belongs to `id`. */
  async releaseName(name: string, id: string): Promise<void> {
    await withLock(this.lockFile, async () => {
      const path = join(this.namesDir, name);
      const text = await fs.readFile(path, 'utf8').catch(() => '');
      if (text.trim() === id) await fs.rm(path, { force: true });
    });
  }

  /**
   * Gives container `id` the name `newName`: under the containers lock, the
   * new name is claimed, config.json rewritten with it, then the old claim
   * released — so no moment has the container nameless or a name held twice.
   */
  async rename(id: string, newName: string): Promise<ContainerRecord> {
    validateName(newName);
    return withLock(this.lockFile, async () => {
      const record = await this.read(id);
      if (!record) throw new ContainerNotFoundError(`no container with name or ID "${id}" found: no such container`);
      const holder = await this.owner(newName);
      if (holder) {
        throw new NameInUseError(
          `the container name "${newName}" is already in use by ${holder}. You have to remove that container to be able to reuse that name: that name is already in use`,
        );
      }
      await writeFileAtomic(join(this.namesDir, newName), `${id}\n`, 0o600);
      const renamed = { ...record, Name: newName };
      await writeFileAtomic(this.paths(id).config, `${JSON.stringify(renamed, null, 2)}\n`, 0o600);
      const old = join(this.namesDir, record.Name);
      if ((await fs.readFile(old, 'utf8').catch(() => '')).trim() === id) await fs.rm(old, { force: true });
      return renamed;
    });
  }

  /**
   * Removes a container: config.json first (from then on it does not exist),
   * then its name, then its directories — inside the user namespace, since
   * upper/ holds files of mapped ids. `removeTree` does that last step.
   */
  /**
   * Removes what a command killed half-way left: container directories with
   * no config.json (create() writes it last and remove() deletes it first)
   * and name claims of containers that are gone. Under the containers lock,
   * so that no create() is between its first directory and its config.json.
   * Returns the ids of the directories removed.
   */
  async sweepIncomplete(removeTree: (dir: string) => Promise<void>): Promise<string[]> {
    // no container was ever made here: nothing to sweep, and no directory for the lock
    if (!(await exists(this.dir))) return [];
    return withLock(this.lockFile, async () => {
      const swept: string[] = [];
      for (const id of await this.ids()) {
        const paths = this.paths(id);
        if (await exists(paths.config)) continue;
        await removeTree(paths.dir);
        swept.push(id);
      }
      let names: string[] = [];
      try {
        names = readdirSync(this.namesDir);
      } catch {
        // no names yet
      }
      for (const name of names) {
        const id = (await fs.readFile(join(this.namesDir, name), 'utf8').catch(() => '')).trim();
        if (!ID.test(id) || !(await exists(this.paths(id).config))) await fs.rm(join(this.namesDir, name), { force: true });
      }
      return swept;
    });
  }

  async remove(id: string, removeTree: (dir: string) => Promise<void>): Promise<void> {
    const record = await this.read(id);
    const paths = this.paths(id);
    if (!record && !(await exists(paths.dir))) throw new ContainerNotFoundError(`no container with name or ID "${id}" found: no such container`);
    await fs.rm(paths.config, { force: true });
    if (record) await this.releaseName(record.Name, id);
    if (await exists(paths.dir)) await removeTree(paths.dir);
  }
}

/** Removes a directory tree whose files belong to mapped ids, from inside the user namespace. */
export async function removeTreeInUserNamespace(dir: string): Promise<void> {
  const { runInUserNamespace } = await import('../userns/helper.js');
  const result = await runInUserNamespace('rm', ['-rf', '--', dir]);
  if (result.exitCode !== 0) {
    throw new TsboxError(`removing ${dir}: ${result.stderr.trim() || `rm exited with ${result.exitCode}`}`);
  }
}
