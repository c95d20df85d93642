import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class AttachCommand extends BaseCommand {
  static override paths = [['attach'], ['container', 'attach']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: "attach to a running container's input and output",
    details: `
      Connects to the monitor of a detached container: its output comes here, and (unless \`--no-stdin\`) what is typed goes to it. ctrl-p ctrl-q (or \`--detach-keys\`) detaches and leaves the container running; when the container exits, attach exits with its status.
    `,
    examples: [['Attach to a shell started with run -dit', '$0 attach box']],
  });

  noStdin = Option.Boolean('--no-stdin', false, { description: 'Do not attach stdin' });
  detachKeys = Option.String('--detach-keys', { description: 'Keys that detach (default ctrl-p,ctrl-q)' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox created' });
  name = Option.String({ name: 'CONTAINER', required: false });

  async execute(): Promise<number> {
    const [{ ContainerStore }, { resolveContainer, latestContainer }] = await Promise.all([
      import('../../core/runtime/containers.js'),
      import('../../core/container/lookup.js'),
    ]);
    const containers = new ContainerStore();
    if (!this.latest && this.name === undefined) {
      const { UsageError } = await import('clipanion');
      throw new UsageError('attach requires the name or id of one running container');
    }
    const id = this.latest ? await latestContainer(containers) : await resolveContainer(containers, this.name!);
    const { attachRunning } = await import('../attach-session.js');
    return attachRunning(containers, id, { stdin: !this.noStdin, detachKeys: this.detachKeys });
  }
}
