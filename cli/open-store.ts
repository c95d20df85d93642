// How commands open the image store: with the user's current id mapping,
// so that a changed /etc/subuid is reported before anything is read.
import type { ImageStore, StoreMapping } from '../core/store/index.js';

export async function openUserStore(mapping?: StoreMapping): Promise<ImageStore> {
  const { openStore } = await import('../core/store/index.js');
  if (!mapping) {
    const { currentMapping } = await import('../core/userns/mapping.js');
    mapping = currentMapping();
  }
  return openStore({ mapping: { uids: mapping.uids, gids: mapping.gids } });
}
