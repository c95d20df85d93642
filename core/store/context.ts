// What every store module needs: where the store is, and how to take its lock.
import type { StoreLayout } from './layout.js';

export interface StoreContext {
  layout: StoreLayout;
  /** Runs `fn` under the store lock (not re-entrant: never call it from inside `fn`). */
  locked<T>(fn: () => Promise<T>): Promise<T>;
  /** Creates the store's directories and storage.json before the first write. */
  prepareWrite(): Promise<void>;
}
