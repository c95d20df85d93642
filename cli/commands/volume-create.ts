import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class VolumeCreateCommand extends BaseCommand {
  static override paths = [['volume', 'create']];

  static override usage = Command.Usage({
    category: 'Volumes',
    description: 'create a new volume',
    details: `
      Creates a named volume with the local driver and prints its name. Without NAME the volume gets a random name of 64 hex digits. Names start with a letter or digit, followed by letters, digits, \`_\`, \`.\` or \`-\`.

      \`tsbox run -v NAME:/path\` creates a volume on first use too, so creating it first is needed only to give it labels.
    `,
    examples: [
      ['Create a volume', '$0 volume create data'],
      ['With labels', '$0 volume create -l app=db -l tier=backend dbdata'],
      ['Only if it does not exist yet', '$0 volume create --ignore data'],
    ],
  });

  ignore = Option.Boolean('--ignore', false, { description: 'Do not fail if the volume already exists' });
  labels = Option.Array('-l,--label', [], { description: 'Set a label on the volume (KEY=VALUE)' });
  driver = Option.String('-d,--driver', { description: "Volume driver (only 'local')" });
  name = Option.String({ required: false, name: 'NAME' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    if (this.driver !== undefined && this.driver !== 'local') {
      throw new TsboxError(`volume driver ${JSON.stringify(this.driver)} is not supported by tsbox: only "local"`);
    }
    const { VolumeStore } = await import('../../core/volume/volumes.js');
    const labels: Record<string, string> = {};
    for (const label of this.labels) {
      // podman: `-l key` is a label with an empty value
      const eq = label.indexOf('=');
      if (eq === 0) throw new TsboxError(`invalid label ${JSON.stringify(label)}: empty key`);
      if (eq < 0) labels[label] = '';
      else labels[label.slice(0, eq)] = label.slice(eq + 1);
    }
    const volume = await new VolumeStore().create({ name: this.name, labels, ignoreExisting: this.ignore });
    this.context.stdout.write(`${volume.Name}\n`);
    return 0;
  }
}
