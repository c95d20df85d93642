import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.js';

/** podman's wait conditions, and the states each is met by ('stopped' and 'exited' also by a container that never ran). */
const CONDITIONS: Record<string, string[]> = {
  configured: ['created'],
  created: ['created'],
  initialized: ['created'],
  running: ['running'],
  paused: ['paused'],
  stopping: ['stopping'],
  stopped: ['exited', 'created'],
  exited: ['exited', 'created'],
};

export class WaitCommand extends BaseCommand {
  static override paths = [['wait'], ['container', 'wait']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'block on one or more containers',
    details: `
      Waits until each CONTAINER meets a condition (default: it has stopped) and prints its exit code, one line per container in the order given. A container that never ran counts as stopped with exit code 0. With a condition other than stopped or exited, -1 is printed.

      Conditions: configured, created, exited, initialized, paused, running, stopped, stopping. Several \`--condition\` flags wait for any of them.
    `,
    examples: [
      ['Wait for a container to exit', '$0 wait web'],
      ['Wait for a container to run', '$0 wait --condition running web'],
    ],
  });

  condition = Option.Array('--condition', { description: 'Condition to wait on (default "stopped")' });
  interval = Option.String('-i,--interval', '250ms', { description: 'Time interval to wait before polling for completion' });
  ignore = Option.Boolean('--ignore', false, { description: 'Ignore a container that does not exist (prints -1)' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  containers = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const conditions = this.condition && this.condition.length > 0 ? this.condition : ['stopped'];
    for (const c of conditions) {
      if (!(c in CONDITIONS)) throw new UsageError(`invalid condition "${c}": use one of ${Object.keys(CONDITIONS).join(', ')}`);
    }
    const states = new Set(conditions.flatMap((c) => CONDITIONS[c]!));
    const exitCondition = conditions.every((c) => c === 'stopped' || c === 'exited');
    const [{ parseDurationMs }, { ContainerStore, ContainerNotFoundError }, { resolveTargets, checkTargetArgs }, { waitUntil }, { readExitFile }, { TsboxError }] =
      await Promise.all([
        import('../container-options.js'),
        import('../../core/runtime/containers.js'),
        import('../../core/container/targets.js'),
        import('../../core/container/stop.js'),
        import('../../core/container/state.js'),
        import('../../core/errors.js'),
      ]);
    const intervalMs = Math.max(1, parseDurationMs('--interval', this.interval));
    checkTargetArgs(this.containers, { latest: this.latest });
    const store = new ContainerStore();
    const targets = await resolveTargets(store, this.containers, { latest: this.latest });
    const results = await Promise.all(
      targets.map(async (target): Promise<number | Error> => {
        try {
          if (target.error) throw target.error;
          try {
            const state = await waitUntil(store, target.id!, (s) => states.has(s.Status), { intervalMs });
            return exitCondition ? state!.ExitCode : -1;
          } catch (err) {
            // removed while we waited (--rm): its exit file, while the runtime dir lasts, still has the code
            if (!(err instanceof ContainerNotFoundError) || !exitCondition) throw err;
            const exit = await readExitFile(target.id!);
            if (exit) return exit.exitCode;
            throw err;
          }
        } catch (err) {
          if (this.ignore && err instanceof ContainerNotFoundError) return -1;
          return err as Error;
        }
      }),
    );
    const errors: Error[] = [];
    for (const result of results) {
      if (typeof result === 'number') this.context.stdout.write(`${result}\n`);
      else errors.push(result);
    }
    if (errors.length === 0) return 0;
    for (const err of errors.slice(0, -1)) this.context.stderr.write(`Error: ${err instanceof TsboxError ? err.userMessage() : err.message}\n`);
    throw errors[errors.length - 1]!;
  }
}
