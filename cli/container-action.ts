// What stop, kill, rm, restart, pause and unpause share: act on each target
// in parallel, print each one that succeeded as podman does (in the order
// given), print every error but the last, and throw the last with podman's
// exit code.
import type { Writable } from 'node:stream';
import type { Target } from '../core/container/targets.js';

export interface ActionOptions {
  stdout: Writable;
  stderr: Writable;
  /** -i/--ignore: a container that does not exist is not an error */
  ignoreMissing?: boolean;
  /** the exit code when every failure is a container that does not exist (podman's stop and rm: 1) */
  notFoundExitCode?: number;
  /** the exit code when every failure is of this kind (rm: 2 for a running container) */
  exitCodeFor?: (errors: Error[]) => number | undefined;
  /** how many at once (default: all) */
  parallel?: number;
}

export async function actOnTargets(targets: Target[], action: (id: string) => Promise<void>, options: ActionOptions): Promise<number> {
  const { TsboxError } = await import('../core/errors.js');
  const { ContainerNotFoundError } = await import('../core/runtime/containers.js');
  const results: (Error | undefined)[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      const target = targets[index]!;
      try {
        if (target.error) throw target.error;
        await action(target.id!);
        results[index] = undefined;
      } catch (err) {
        results[index] = err as Error;
      }
    }
  };
  const width = Math.max(1, Math.min(options.parallel ?? targets.length, targets.length));
  await Promise.all(Array.from({ length: width }, worker));

  const errors: Error[] = [];
  targets.forEach((target, i) => {
    const err = results[i];
    if (!err) options.stdout.write(`${target.shown}\n`);
    else if (!(options.ignoreMissing && err instanceof ContainerNotFoundError)) errors.push(err);
  });
  if (errors.length === 0) return 0;
  for (const err of errors.slice(0, -1)) {
    const message = err instanceof TsboxError ? err.userMessage() : err.message;
    options.stderr.write(`Error: ${message}\n`);
  }
  const last = errors[errors.length - 1]!;
  const code = errors.every((e) => e instanceof ContainerNotFoundError) ? options.notFoundExitCode : options.exitCodeFor?.(errors);
  if (code !== undefined) {
    throw new TsboxError(last.message, { exitCode: code, ...(last instanceof TsboxError && last.hint ? { hint: last.hint } : {}) });
  }
  throw last;
}
