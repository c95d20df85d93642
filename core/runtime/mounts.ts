// The user's mount flags (core/volume's parsed entries) as spec mounts: a
// named or anonymous volume becomes a bind of its _data directory, made on
// first use as podman does.
import type { MountEntry } from '../volume/mount-flags.js';
import type { Mount } from './spec.js';

export interface ResolvedMounts {
  mounts: Mount[];
  /** volumes made for this container without a name: `--rm` removes them, as podman does */
  anonymousVolumes: string[];
}

export async function resolveMounts(entries: MountEntry[], storeRoot: string): Promise<ResolvedMounts> {
  const mounts: Mount[] = [];
  const anonymousVolumes: string[] = [];
  let volumes: import('../volume/volumes.js').VolumeStore | undefined;
  for (const entry of entries) {
    const options = entry.readOnly ? ['ro', ...entry.options] : entry.options;
    if (entry.type === 'tmpfs') {
      mounts.push({ destination: entry.destination, type: 'tmpfs', source: 'tmpfs', options });
    } else if (entry.type === 'bind') {
      mounts.push({ destination: entry.destination, type: 'bind', source: entry.source!, options });
    } else {
      if (!volumes) {
        const [{ VolumeStore }, { join }] = await Promise.all([import('../volume/volumes.js'), import('node:path')]);
        volumes = new VolumeStore(join(storeRoot, 'volumes'));
      }
      const volume = await volumes.ensure(entry.source);
      if (volume.anonymous) anonymousVolumes.push(volume.Name);
      mounts.push({ destination: entry.destination, type: 'bind', source: volume.Mountpoint, options });
    }
  }
  return { mounts, anonymousVolumes };
}

/** Removes the anonymous volumes of a --rm container; what cannot be removed is reported, not fatal. */
export async function removeAnonymousVolumes(names: string[], storeRoot: string, warn: (message: string) => void): Promise<void> {
  if (names.length === 0) return;
  const [{ VolumeStore }, { join }] = await Promise.all([import('../volume/volumes.js'), import('node:path')]);
  const volumes = new VolumeStore(join(storeRoot, 'volumes'));
  for (const name of names) {
    await volumes.remove(name, { force: true }).catch((err) => warn(`removing volume ${name}: ${(err as Error).message}`));
  }
}
