// How commands open the image store: with the user's current id mapping,
// so that a changed /etc/subuid is reported before anything is read, or
// written: commands that only list and inspect open it without, so that
// `tsbox images` still answers before `tsbox system migrate` has run.
import type { ImageStore, StoreMapping } from '../core/store/index.js';

/** The store for reading only: no check of the id mapping (nothing is unpacked or re-owned). */
export async function openStoreForReading(): Promise<ImageStore> {
  const { openStore } = await import('../core/store/index.js');
  return openStore();
}

export async function openUserStore(mapping?: StoreMapping): Promise<ImageStore> {
  const { openStore } = await import('../core/store/index.js');
  if (!mapping) {
    const { currentMapping } = await import('../core/userns/mapping.js');
    mapping = currentMapping();
  }
  return openStore({ mapping: { uids: mapping.uids, gids: mapping.gids } });
}
