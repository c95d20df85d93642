// Runs one of ns-task.ts's tasks as root of the user's mapped namespace (a
// second node process under the helper), or in this process when it already
// is there, and returns the task's JSON answer.
import { fileURLToPath } from 'node:url';
import { TsboxError } from '../errors.js';
import type { UserMapping } from '../userns/mapping.js';

export type TaskName = 'du' | 'gc' | 'reown';

export async function runNamespaceTask(task: TaskName, args: string[], options: { mapping?: UserMapping; timeoutMs?: number } = {}): Promise<unknown> {
  const { isInUserNamespace, runInUserNamespace } = await import('../userns/helper.js');
  if (isInUserNamespace()) {
    const { runTask } = await import('./ns-task.js');
    return runTask(task, args);
  }
  const script = fileURLToPath(new URL('./ns-task-main.js', import.meta.url));
  const result = await runInUserNamespace(process.execPath, [script, task, ...args], {
    ...(options.mapping ? { mapping: options.mapping } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10 * 60_000),
  });
  if (result.exitCode !== 0) {
    const why = result.stderr.trim().split('\n').pop() || `exit status ${result.exitCode}`;
    throw new TsboxError(`${task} inside the user namespace: ${why}`);
  }
  try {
    return JSON.parse(result.stdout) as unknown;
  } catch {
    throw new TsboxError(`${task} inside the user namespace: unreadable answer ${JSON.stringify(result.stdout.slice(0, 200))}`);
  }
}
