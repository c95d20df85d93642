import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class VolumeRmCommand extends BaseCommand {
  static override paths = [['volume', 'rm'], ['volume', 'remove']];

  static override usage = Command.Usage({
    category: 'Volumes',
    description: 'remove one or more volumes',
    details: `
      Removes each VOLUME with its data and prints its name. A volume that containers use is refused unless \`--force\`.

      Exit status: 0 when all were removed, 1 when one of them did not exist, 2 when one is in use, 125 for any other error.
    `,
    examples: [
      ['Remove a volume', '$0 volume rm data'],
      ['Remove every volume', '$0 volume rm --all'],
    ],
  });

  force = Option.Boolean('-f,--force', false, { description: 'Remove a volume even when containers use it' });
  all = Option.Boolean('-a,--all', false, { description: 'Remove all volumes' });
  names = Option.Rest({ name: 'VOLUME' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    if (this.all === (this.names.length > 0)) {
      throw new TsboxError(this.all ? 'when using the --all flag, you may not pass any volume names' : 'choose either one or more volumes or all');
    }
    const { VolumeStore, NoSuchVolumeError, VolumeInUseError } = await import('../../core/volume/volumes.js');
    const store = new VolumeStore();
    const targets = this.all ? (await store.list()).map((v) => v.Name) : this.names;
    const errors: Error[] = [];
    for (const name of targets) {
      try {
        await store.remove(name, { force: this.force });
        this.context.stdout.write(`${name}\n`);
      } catch (err) {
        errors.push(err as Error);
      }
    }
    if (errors.length === 0) return 0;
    // Every error but the last is printed here; the last goes through BaseCommand like any error.
    for (const err of errors.slice(0, -1)) this.context.stderr.write(`Error: ${err.message}\n`);
    const last = errors[errors.length - 1]!;
    if (errors.every((e) => e instanceof NoSuchVolumeError)) throw new TsboxError(last.message, { exitCode: 1 });
    if (errors.every((e) => e instanceof NoSuchVolumeError || e instanceof VolumeInUseError)) throw new TsboxError(last.message, { exitCode: 2 });
    throw last;
  }
}
