// The user's mount flags (core/volume's parsed entries) as spec mounts: a
// named or anonymous volume becomes a bind of its _data directory, made on
// first use as podman does.
import type { MountEntry } from '../volume/mount-flags.js';
import type { Mount } from './spec.js';

export async function resolveMounts(entries: MountEntry[], storeRoot: string): Promise<Mount[]> {
  const mounts: Mount[] = [];
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
      mounts.push({ destination: entry.destination, type: 'bind', source: volume.Mountpoint, options });
    }
  }
  return mounts;
}
