// Named volumes: `<store>/volumes/<name>/{volume.json, _data/}`, podman's
// local driver. A volume appears whole or not at all: it is built under a
// temporary name and renamed into place; it goes by being renamed away first.
// Its data may hold files a container wrote as mapped ids, which only the
// user namespace can delete (removeTree).
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { randomHex } from '../random.js';
import { TsboxError } from '../errors.js';
import { storeRoot } from '../paths.js';
import { commitDirectory, isTempName, tempNameFor, writeFileAtomic } from '../store/atomic.js';
import { withLock } from '../store/lock.js';
import { isOwnerAlive, ownerFromName } from '../store/owner.js';
import { checkVolumeName, isValidVolumeName } from './names.js';

/** What `volume inspect` shows, field for field as podman names them. */
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
}

/** volume.json: the record plus what only tsbox needs. */
interface VolumeFile extends VolumeRecord {
  /** Made for `-v /ctr` or `--mount type=volume` without a source: `run --rm` removes it. */
  Anonymous?: boolean;
}

export interface Volume extends VolumeRecord {
  anonymous: boolean;
}

export class NoSuchVolumeError extends TsboxError {
  constructor(name: string) {
    super(`no volume with name ${JSON.stringify(name)} found: no such volume`);
  }
}

export class VolumeExistsError extends TsboxError {
  constructor(name: string) {
    super(`volume with name ${name} already exists: volume already exists`);
  }
}

export class VolumeInUseError extends TsboxError {
  constructor(name: string, containers: string[]) {
    super(`volume ${name} is being used by the following container(s): ${containers.join(', ')}: volume is being used`);
  }
}

export interface CreateVolumeOptions {
  /** Default: 64 random hex digits, as podman names anonymous volumes. */
  name?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  /** `--ignore`: an existing volume of that name is the answer, not an error. */
  ignoreExisting?: boolean;
  anonymous?: boolean;
}

/**
 * Which volumes containers use, by name, with the containers using each.
 * TODO(container store): there are no containers yet, so none is in use and
 * `volume prune` removes every volume; the container store fills this in
 * (every container, running or not, holds its volumes as podman's do).
 */
export async function volumesInUse(): Promise<Map<string, string[]>> {
  return new Map();
}

const DATA = '_data';
const RECORD = 'volume.json';

export class VolumeStore {
  /** `<store>/volumes` unless told otherwise (tests). */
  constructor(readonly root: string = join(storeRoot(), 'volumes')) {}

  private dir(name: string): string {
    return join(this.root, name);
  }

  /**
   * Holds the volumes lock while `fn` runs. Removal takes it; so must
   * whoever decides a volume is in use (container creation), so that prune
   * never removes a volume a container is about to mount. Not re-entrant.
   */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return fs.mkdir(this.root, { recursive: true, mode: 0o700 }).then(() => withLock(join(this.root, '.lock'), fn));
  }

  async create(options: CreateVolumeOptions = {}): Promise<Volume> {
    const name = options.name ?? randomHex(32);
    checkVolumeName(name);
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    const existing = await this.find(name);
    if (existing) {
      if (options.ignoreExisting) return existing;
      throw new VolumeExistsError(name);
    }
    const final = this.dir(name);
    const temp = tempNameFor(final);
    const record: VolumeFile = {
      Name: name,
      Driver: 'local',
      Mountpoint: join(final, DATA),
      CreatedAt: new Date().toISOString(),
      Labels: options.labels ?? {},
      Options: options.options ?? {},
      Scope: 'local',
      ...(options.anonymous ? { Anonymous: true } : {}),
    };
    try {
      await fs.mkdir(temp, { mode: 0o700 });
      // The container's root (the user, outside) owns the data directory; 0755 whatever the umask.
      await fs.mkdir(join(temp, DATA));
      await fs.chmod(join(temp, DATA), 0o755);
      await writeFileAtomic(join(temp, RECORD), `${JSON.stringify(record, null, 2)}\n`, 0o600);
      if ((await commitDirectory(temp, final)) === 'exists') {
        // Another tsbox made it in between.
        if (options.ignoreExisting) return await this.inspect(name);
        throw new VolumeExistsError(name);
      }
    } finally {
      await fs.rm(temp, { recursive: true, force: true });
    }
    return toVolume(record, final);
  }

  /** The volume, or undefined when there is none of that name. */
  async find(name: string): Promise<Volume | undefined> {
    // An invalid name could be a path (`../x`): it names nothing.
    if (!isValidVolumeName(name)) return undefined;
    let text: string;
    try {
      text = await fs.readFile(join(this.dir(name), RECORD), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    return toVolume(JSON.parse(text) as VolumeFile, this.dir(name));
  }

  async inspect(name: string): Promise<Volume> {
    const volume = await this.find(name);
    if (!volume) throw new NoSuchVolumeError(name);
    return volume;
  }

  /** All volumes, by name. */
  async list(): Promise<Volume[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const volumes: Volume[] = [];
    for (const name of names.sort()) {
      const volume = await this.find(name);
      if (volume) volumes.push(volume);
    }
    return volumes;
  }

  /** Finds or makes the volume `run` mounts; `undefined` makes an anonymous one. Podman creates named volumes on first use too. */
  async ensure(name: string | undefined): Promise<Volume> {
    if (name === undefined) return this.create({ anonymous: true });
    return (await this.find(name)) ?? this.create({ name, ignoreExisting: true });
  }

  /**
   * Removes the volume. One that containers use is refused unless `force`
   * (podman then removes those containers; there are none yet).
   */
  async remove(name: string, options: { force?: boolean } = {}): Promise<void> {
    await this.withLock(async () => {
      await this.inspect(name);
      const users = (await volumesInUse()).get(name) ?? [];
      if (users.length > 0 && !options.force) throw new VolumeInUseError(name, users);
      await this.removeUnlocked(name);
    });
  }

  /** Removes every volume no container uses; returns their names. */
  async prune(): Promise<string[]> {
    return this.withLock(async () => {
      await this.sweep();
      const inUse = await volumesInUse();
      const removed: string[] = [];
      for (const volume of await this.list()) {
        if (inUse.has(volume.Name)) continue;
        await this.removeUnlocked(volume.Name);
        removed.push(volume.Name);
      }
      return removed;
    });
  }

  /** The volumes prune would remove now. */
  async unused(): Promise<Volume[]> {
    const inUse = await volumesInUse();
    return (await this.list()).filter((v) => !inUse.has(v.Name));
  }

  private async removeUnlocked(name: string): Promise<void> {
    const dir = this.dir(name);
    const doomed = tempNameFor(dir);
    try {
      await fs.rename(dir, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NoSuchVolumeError(name);
      throw err;
    }
    await removeTree(doomed, `removing volume ${name}`);
  }

  /** Removes what a tsbox killed midway left: half-made and half-removed volumes whose maker is dead. */
  async sweep(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.root);
    } catch {
      return;
    }
    for (const name of names) {
      if (!isTempName(name)) continue;
      const owner = ownerFromName(name);
      if (owner && isOwnerAlive(owner)) continue;
      await removeTree(join(this.root, name), `removing leftover ${name}`).catch(() => {});
    }
  }
}

function toVolume(file: VolumeFile, dir: string): Volume {
  // The path is where the volume is now, whatever the record says (a store may be moved).
  const { Anonymous, ...record } = file;
  return { ...record, Mountpoint: join(dir, DATA), Labels: record.Labels ?? {}, Options: record.Options ?? {}, anonymous: Anonymous === true };
}

/** The fields `volume inspect` prints, in podman's order. */
export function volumeRecord(volume: Volume): VolumeRecord {
  const { Name, Driver, Mountpoint, CreatedAt, Labels, Scope, Options } = volume;
  return { Name, Driver, Mountpoint, CreatedAt, Labels, Scope, Options };
}

/**
 * Deletes a directory tree. Files a container created belong to mapped ids
 * and sit in directories the user cannot write outside the namespace: when a
 * plain removal is refused, `rm -rf` runs again inside the user namespace.
 */
async function removeTree(dir: string, context: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
  }
  const { isInUserNamespace, runInUserNamespace } = await import('../userns/helper.js');
  if (isInUserNamespace()) throw new TsboxError(`${context}: permission denied on ${dir}`);
  const result = await runInUserNamespace('rm', ['-rf', '--', dir]);
  if (result.exitCode !== 0) throw new TsboxError(`${context}: ${result.stderr.trim() || `rm exited with ${result.exitCode}`}`);
}
