import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class VolumePruneCommand extends BaseCommand {
  static override paths = [['volume', 'prune']];

  static override usage = Command.Usage({
    category: 'Volumes',
    description: 'remove all unused volumes',
    details: `
      Removes every volume that no container uses, with its data, and prints the names removed. Asks first unless \`--force\`.
    `,
    examples: [
      ['Remove unused volumes, asking first', '$0 volume prune'],
      ['Without asking', '$0 volume prune -f'],
    ],
  });

  force = Option.Boolean('-f,--force', false, { description: 'Do not prompt for confirmation' });

  async execute(): Promise<number> {
    const { VolumeStore } = await import('../../core/volume/volumes.js');
    const store = new VolumeStore();
    if (!this.force) {
      const unused = await store.unused();
      if (unused.length === 0) return 0;
      this.context.stdout.write(
        'WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\n' +
          unused.map((v) => `${v.Name}\n`).join('') +
          'Are you sure you want to continue? [y/N] ',
      );
      const answer = await readLine(this.stdin);
      if (!/^y(es)?$/i.test(answer.trim())) return 0;
    }
    const removed = await store.prune();
    this.context.stdout.write(removed.map((name) => `${name}\n`).join(''));
    return 0;
  }
}

/** The first line on `stream`, or what there is before EOF. */
async function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    text += chunk.toString();
    const nl = text.indexOf('\n');
    if (nl >= 0) return text.slice(0, nl);
    if (text.length > 4096) break;
  }
  return text;
}
