// `container prune`: every container without a process — exited, or created
// and never started — removed as `rm` removes one; and what commands killed
// half-way left (remove.ts's removeLeftovers).
import { loadContainers } from './list.js';
import { removeContainer, removeLeftovers } from './remove.js';
import type { ContainerStore } from '../runtime/containers.js';

export interface PruneResult {
  /** the full ids removed, newest first */
  removed: string[];
  errors: { id: string; error: Error }[];
}

export async function pruneContainers(containers: ContainerStore, warn: (message: string) => void = () => {}): Promise<PruneResult> {
  const candidates = (await loadContainers(containers)).filter((e) => e.state.Status === 'exited' || e.state.Status === 'created');
  const results = await Promise.all(
    candidates.map(async ({ record }) => {
      try {
        // removeContainer reads the state again and refuses a container started meanwhile
        await removeContainer(containers, record.Id, { warn });
        return { id: record.Id };
      } catch (error) {
        return { id: record.Id, error: error as Error };
      }
    }),
  );
  await removeLeftovers(containers, warn);
  return {
    removed: results.filter((r) => !r.error).map((r) => r.id),
    errors: results.filter((r): r is { id: string; error: Error } => r.error !== undefined),
  };
}
