import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class TagCommand extends BaseCommand {
  static override paths = [['tag'], ['image', 'tag']];

  static override usage = Command.Usage({
    category: 'Images',
    description: 'add an additional name to a local image',
    details: `
      Gives the image SOURCE (a name or an id) each TARGET name. A target without a registry is normalised as podman does (\`myapp\` becomes \`docker.io/library/myapp:latest\`); a name another image had moves to this one, and that image stays, possibly as \`<none>\`.
    `,
    examples: [
      ['Tag an image', '$0 tag alpine localhost/mybase:1.0'],
      ['Several names at once', '$0 tag 2c6d21737d83 localhost/a localhost/b:v2'],
    ],
  });

  source = Option.String({ name: 'SOURCE' });
  targets = Option.Rest({ required: 1, name: 'TARGET' });

  async execute(): Promise<number> {
    const { openUserStore } = await import('../open-store.js');
    const { parseReference, formatReference } = await import('../../core/reference/index.js');
    const { TsboxError } = await import('../../core/errors.js');
    const store = await openUserStore();
    const image = await store.findImage(this.source);
    const names = this.targets.map((target) => {
      const ref = parseReference(target);
      if (ref.digest !== undefined) throw new TsboxError(`normalizing target name ${JSON.stringify(target)}: tag by digest not supported`);
      return formatReference(ref);
    });
    for (const name of names) await store.tagImage(image.id, name);
    return 0;
  }
}
