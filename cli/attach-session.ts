// Attaching from the command line: `attach` to a running container, and
// `start -a` which connects before the command runs so no output is lost.
import { TsboxError } from '../core/errors.js';
import type { Reporter } from '../core/progress.js';
import type { ContainerStore } from '../core/runtime/containers.js';

export interface SessionOptions {
  stdin: boolean;
  detachKeys?: string | undefined;
  reporter?: Reporter;
}

async function relay(socket: import('node:net').Socket, tty: boolean, options: SessionOptions): Promise<number> {
  const { attachTo } = await import('../core/container/attach.js');
  const result = await attachTo(socket, {
    stdin: options.stdin,
    tty,
    ...(options.detachKeys !== undefined ? { detachKeys: options.detachKeys } : {}),
  });
  if (result.exited) return result.exitCode;
  if (result.reason === 'detached') return 0;
  throw new TsboxError('the connection to the container was lost before it exited');
}

export async function attachRunning(containers: ContainerStore, id: string, options: SessionOptions): Promise<number> {
  const [{ readState, isActive, runtimePaths }, { connectAttach }] = await Promise.all([
    import('../core/container/state.js'),
    import('../core/container/attach.js'),
  ]);
  const [record, state] = await Promise.all([containers.read(id), readState(containers, id)]);
  if (!record || !isActive(state)) throw new TsboxError('you can only attach to running containers: container state improper', { hint: 'start it and attach with `tsbox start -a`' });
  const socket = await connectAttach(runtimePaths(id).attach);
  return relay(socket, record.Spec.process.terminal, { ...options, stdin: options.stdin && (record.Run?.Interactive || record.Spec.process.terminal) === true });
}

export async function attachAndStart(containers: ContainerStore, id: string, options: SessionOptions): Promise<number> {
  const [{ startContainer }, { connectAttach }, { containerSeccomp }] = await Promise.all([
    import('../core/runtime/detached.js'),
    import('../core/container/attach.js'),
    import('../core/runtime/seccomp.js'),
  ]);
  const record = await containers.read(id);
  if (!record) throw new TsboxError(`no container with name or ID "${id}" found: no such container`);
  let socket: import('node:net').Socket | undefined;
  await startContainer(containers, id, {
    seccomp: containerSeccomp,
    ...(options.reporter ? { reporter: options.reporter } : {}),
    beforeStart: async (path) => {
      socket = await connectAttach(path);
    },
  });
  // already running: the start did nothing, attach to what runs
  if (!socket) return attachRunning(containers, id, options);
  return relay(socket, record.Spec.process.terminal, { ...options, stdin: options.stdin && (record.Run?.Interactive || record.Spec.process.terminal) === true });
}
