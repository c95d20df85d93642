import { Command } from 'clipanion';
import { ContainerCreateCommand } from '../create-options.js';

export class CreateCommand extends ContainerCreateCommand {
  static override paths = [['create'], ['container', 'create']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'create a container without starting it',
    details: `
      Creates a container from IMAGE as \`tsbox run\` would, pulling the image first when it is not in the store, and prints its id. \`tsbox start\` runs it.
    `,
    examples: [
      ['Create, then start and attach', '$0 create --name job alpine echo hello && $0 start -a job'],
    ],
  });

  async execute(): Promise<number> {
    const { request, hooks } = await this.buildRequest({ detach: true });
    await this.replaceExisting();
    const { createContainer } = await import('../../core/runtime/start.js');
    const created = await createContainer(request, { ...hooks, ...(this.cidfile !== undefined ? { onCreated: (id: string) => this.writeCidfile(id) } : {}) });
    await created.release();
    this.context.stdout.write(`${created.record.Id}\n`);
    return 0;
  }
}
