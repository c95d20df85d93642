import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class VolumeInspectCommand extends BaseCommand {
  static override paths = [['volume', 'inspect']];

  static override usage = Command.Usage({
    category: 'Volumes',
    description: 'display detailed information on one or more volumes',
    details: `
      Prints a JSON array with one object per VOLUME, as podman's: Name, Driver, Mountpoint (the directory that holds the data), CreatedAt, Labels, Scope and Options.

      \`--format\` takes a Go template over those fields, e.g. \`{{.Mountpoint}}\`.
    `,
    examples: [
      ['Inspect a volume', '$0 volume inspect data'],
      ['Where its data is', "$0 volume inspect --format '{{.Mountpoint}}' data"],
      ['Every volume', '$0 volume inspect --all'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Inspect all volumes' });
  format = Option.String('-f,--format', { description: "Format the output using a Go template, or 'json'" });
  names = Option.Rest({ name: 'VOLUME' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    if (this.all === (this.names.length > 0)) {
      throw new TsboxError(this.all ? 'when using the --all flag, you may not pass any volume names' : 'provide one or more volume names or use --all');
    }
    const { VolumeStore, volumeRecord } = await import('../../core/volume/volumes.js');
    const { formatJson, formatTemplate } = await import('../format.js');
    const store = new VolumeStore();
    const volumes = this.all ? await store.list() : [];
    const missing: string[] = [];
    for (const name of this.names) {
      const volume = await store.find(name);
      if (volume) volumes.push(volume);
      else missing.push(name);
    }
    const records = volumes.map((v) => ({ ...volumeRecord(v) }));
    if (this.format !== undefined && this.format !== 'json') this.context.stdout.write(formatTemplate(this.format, records));
    else this.context.stdout.write(formatJson(records));
    if (missing.length === 0) return 0;
    // podman prints what it found, every later miss as a line of its own, the first as the error.
    for (const name of missing.slice(1)) this.context.stderr.write(`error inspecting object: no such volume ${name}\n`);
    throw new TsboxError(`inspecting object: no such volume ${missing[0]}`);
  }
}
