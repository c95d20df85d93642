// The set-up the container suites share: Debian's registry on loopback with
// the busybox fixture pushed, a store whose docker.io mirror is that registry
// (so `busybox` resolves as on a real host), and busybox pulled once, up
// front: the tests time container work, not pulls.
import * as assert from 'uvu/assert';
import { startRegistry, type TestRegistry } from './registry.js';
import { pushBusybox } from './fixtures.js';
import { runTsbox, type RunResult } from './tsbox.js';
import { createTestStore, type TestStore } from './store.js';

export interface BusyboxContext {
  registry: TestRegistry;
  store: TestStore;
}

/** For test.before: fills in the registry and the store, and pulls busybox. */
export async function startBusyboxStore(context: BusyboxContext): Promise<void> {
  context.registry = await startRegistry();
  await pushBusybox(context.registry);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host, { mirrorDockerIo: true });
  const pulled = await tsboxIn(context, ['pull', '-q', 'busybox']);
  assert.is(pulled.code, 0, pulled.stderr);
}

/** For test.after: whatever a failed test left running is removed, then the store and the registry. */
export async function stopBusyboxStore(context: Partial<BusyboxContext>): Promise<void> {
  if (context.store) await tsboxIn(context as BusyboxContext, ['rm', '-f', '-a']).catch(() => {});
  await context.store?.cleanup();
  await context.registry?.stop();
}

/** `tsbox ARGS` that must succeed; its stdout. */
export async function okIn(context: BusyboxContext, args: string[]): Promise<string> {
  const r = await tsboxIn(context, args);
  assert.is(r.code, 0, `tsbox ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `tsbox ARGS` on the suite's store, bounded in time. */
export function tsboxIn(context: BusyboxContext, args: string[], input?: string | Buffer): Promise<RunResult> {
  return runTsbox(args, { env: context.store.env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
}
