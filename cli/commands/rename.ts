import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class RenameCommand extends BaseCommand {
  static override paths = [['rename'], ['container', 'rename']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'rename an existing container',
    details: `
      Gives CONTAINER (a name, an id or an id prefix) the name NEWNAME, which no other container may hold. A running container keeps running; its /etc/hosts keeps the old name until it is started again.
    `,
    examples: [['Rename a container', '$0 rename old_name new_name']],
  });

  container = Option.String({ name: 'CONTAINER' });
  newName = Option.String({ name: 'NEWNAME' });

  async execute(): Promise<number> {
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { resolveContainer } = await import('../../core/container/lookup.js');
    const containers = new ContainerStore();
    const id = await resolveContainer(containers, this.container);
    await containers.rename(id, this.newName);
    return 0;
  }
}
