import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.js';

export class StartCommand extends BaseCommand {
  static override paths = [['start'], ['container', 'start']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'start one or more containers',
    details: `
      Starts created or exited containers in the background, each under its own monitor, and prints them as given. With \`-a\` it attaches to the (single) container before its command runs, and exits with its status; ctrl-p ctrl-q detaches.
    `,
    examples: [
      ['Start a stopped container', '$0 start web'],
      ['Start and attach', '$0 start -ai job'],
    ],
  });

  attach = Option.Boolean('-a,--attach', false, { description: "Attach to the container's output (and exit with its status)" });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'Attach stdin too' });
  detachKeys = Option.String('--detach-keys', { description: 'Keys that detach (default ctrl-p,ctrl-q)' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox created' });
  all = Option.Boolean('--all', false, { description: 'Start all containers that are not running' });
  names = Option.Rest({ name: 'CONTAINER' });

  async execute(): Promise<number> {
    const [{ ContainerStore }, { resolveContainer, latestContainer }, { startContainer }, { containerSeccomp }, { createReporter }] = await Promise.all([
      import('../../core/runtime/containers.js'),
      import('../../core/container/lookup.js'),
      import('../../core/runtime/detached.js'),
      import('../../core/runtime/seccomp.js'),
      import('../reporter.js'),
    ]);
    const containers = new ContainerStore();
    const reporter = createReporter({ quiet: false, stderr: this.context.stderr });
    let targets: Array<{ given: string; id: string }>;
    if (this.all) {
      const { readState, isActive } = await import('../../core/container/state.js');
      const records = await containers.list();
      const states = await Promise.all(records.map((r) => readState(containers, r.Id)));
      targets = records.filter((_, i) => !isActive(states[i]!)).map((r) => ({ given: r.Id, id: r.Id }));
    } else if (this.latest) {
      const id = await latestContainer(containers);
      targets = [{ given: id, id }];
    } else {
      if (this.names.length === 0) throw new UsageError('start requires at least one argument');
      targets = await Promise.all(this.names.map(async (given) => ({ given, id: await resolveContainer(containers, given) })));
    }
    if (this.attach || this.interactive) {
      if (targets.length !== 1) throw new UsageError('you cannot start and attach multiple containers at once');
      const { attachAndStart } = await import('../attach-session.js');
      return attachAndStart(containers, targets[0]!.id, { stdin: this.interactive, detachKeys: this.detachKeys, reporter });
    }
    let failed: unknown;
    for (const target of targets) {
      try {
        await startContainer(containers, target.id, { reporter, seccomp: containerSeccomp });
        this.context.stdout.write(`${target.given}\n`);
      } catch (err) {
        if (failed) await this.catch(failed).catch(() => {});
        failed = err;
      }
    }
    if (failed) throw failed;
    return 0;
  }
}
