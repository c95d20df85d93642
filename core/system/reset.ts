// `system reset`: every container (running ones killed first), then the
// whole store — images, layers, volumes, storage.json — removed as root of
// the user namespace (its files belong to mapped ids), then tsbox's runtime
// directory. Works when the store's mapping changed too: what the current
// mapping cannot reach is reported with the fix.
import { promises as fs, existsSync } from 'node:fs';
import { join } from 'node:path';
import { TsboxError } from '../errors.js';
import { runtimeDir, storeRoot } from '../paths.js';
import { removeContainer } from '../container/remove.js';
import type { ContainerStore } from '../runtime/containers.js';

export interface ResetResult {
  containers: string[];
  failures: { id: string; error: Error }[];
}

/** The directories reset removes, for the warning. */
export function resetPaths(root = storeRoot()): { store: string; runtime: string } {
  return { store: root, runtime: join(runtimeDir(), 'tsbox') };
}

export async function systemReset(containers: ContainerStore, options: { root?: string; warn?: (m: string) => void } = {}): Promise<ResetResult> {
  const warn = options.warn ?? (() => {});
  const paths = resetPaths(options.root);
  const result: ResetResult = { containers: [], failures: [] };
  let records: { Id: string }[] = [];
  try {
    records = await containers.list();
  } catch {
    // no container store: nothing to end
  }
  for (const { Id } of records) {
    try {
      await removeContainer(containers, Id, { force: true, volumes: true, warn });
      result.containers.push(Id);
    } catch (error) {
      // the store goes below anyway; a container still running is the one thing worth telling
      result.failures.push({ id: Id, error: error as Error });
    }
  }
  if (existsSync(paths.store)) {
    try {
      await fs.rm(paths.store, { recursive: true, force: true });
    } catch {
      const { runInUserNamespace } = await import('../userns/helper.js');
      const removed = await runInUserNamespace('rm', ['-rf', '--', paths.store], { signal: AbortSignal.timeout(10 * 60_000) });
      if (removed.exitCode !== 0 || existsSync(paths.store)) {
        throw new TsboxError(`removing ${paths.store}: ${removed.stderr.trim().split('\n').pop() || `rm exited with ${removed.exitCode}`}`, {
          hint: `files there belong to ids the current mapping no longer grants you; remove them as root: sudo rm -rf ${paths.store}`,
        });
      }
    }
  }
  await fs.rm(paths.runtime, { recursive: true, force: true });
  return result;
}
