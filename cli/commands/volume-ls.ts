import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';
import type { Volume } from '../../core/volume/volumes.js';

export class VolumeLsCommand extends BaseCommand {
  static override paths = [['volume', 'ls'], ['volume', 'list']];

  static override usage = Command.Usage({
    category: 'Volumes',
    description: 'list volumes',
    details: `
      Lists the volumes by name, in podman's table \`DRIVER  VOLUME NAME\`.

      \`--filter\` takes \`name=REGEX\`, \`label=KEY\` or \`label=KEY=VALUE\`, \`driver=local\` and \`dangling=true|false\` (not used by any container); the same filter given twice matches either value, different filters must all match.

      \`--format\` takes \`json\` or a Go template over Name, Driver, Mountpoint, CreatedAt, Labels, Scope and Options; start it with \`table\` for a header row.
    `,
    examples: [
      ['List volumes', '$0 volume ls'],
      ['Only the names', '$0 volume ls -q'],
      ['Volumes with a label', '$0 volume ls --filter label=app=db'],
      ['Names and paths', "$0 volume ls --format '{{.Name}} {{.Mountpoint}}'"],
    ],
  });

  quiet = Option.Boolean('-q,--quiet', false, { description: 'Print volume output in quiet mode' });
  noHeading = Option.Boolean('-n,--noheading', false, { description: 'Do not print headers' });
  format = Option.String('--format', { description: "Format volume output using a Go template, or 'json'" });
  filters = Option.Array('-f,--filter', [], { description: 'Filter volume output (name=, label=, driver=, dangling=)' });

  async execute(): Promise<number> {
    const { VolumeStore, volumeRecord, volumesInUse } = await import('../../core/volume/volumes.js');
    const format = await import('../format.js');
    const match = await this.filter(volumesInUse);
    const volumes = (await new VolumeStore().list()).filter(match);
    const out = this.context.stdout;
    if (this.format === 'json') {
      out.write(format.formatJson(volumes.map(volumeRecord)));
    } else if (this.quiet) {
      out.write(volumes.map((v) => `${v.Name}\n`).join(''));
    } else if (this.format !== undefined) {
      const template = this.noHeading ? this.format.replace(/^table\s+/, '') : this.format;
      out.write(format.formatTemplate(template, volumes.map((v) => ({ ...volumeRecord(v) })), HEADERS));
    } else {
      const rows = volumes.map((v) => [v.Driver, v.Name]);
      out.write(format.renderTable(this.noHeading ? rows : [['DRIVER', 'VOLUME NAME'], ...rows]));
    }
    return 0;
  }

  /** One predicate for all --filter values: OR within one key, AND across keys, as podman. */
  private async filter(volumesInUse: () => Promise<Map<string, string[]>>): Promise<(v: Volume) => boolean> {
    const { TsboxError } = await import('../../core/errors.js');
    const byKey = new Map<string, string[]>();
    for (const f of this.filters) {
      const eq = f.indexOf('=');
      if (eq < 0) throw new TsboxError(`invalid filter ${JSON.stringify(f)}`);
      const key = f.slice(0, eq);
      byKey.set(key, [...(byKey.get(key) ?? []), f.slice(eq + 1)]);
    }
    const inUse = byKey.has('dangling') ? await volumesInUse() : new Map<string, string[]>();
    const tests: ((v: Volume) => boolean)[] = [];
    for (const [key, values] of byKey) {
      switch (key) {
        case 'name': {
          const patterns = values.map((value) => {
            try {
              return new RegExp(value);
            } catch {
              throw new TsboxError(`invalid name filter ${JSON.stringify(value)}: not a regular expression`);
            }
          });
          tests.push((v) => patterns.some((p) => p.test(v.Name)));
          break;
        }
        case 'label':
          tests.push((v) =>
            values.some((value) => {
              const eq = value.indexOf('=');
              if (eq < 0) return value in v.Labels;
              return v.Labels[value.slice(0, eq)] === value.slice(eq + 1);
            }),
          );
          break;
        case 'driver':
          tests.push((v) => values.includes(v.Driver));
          break;
        case 'dangling':
          for (const value of values) {
            if (value !== 'true' && value !== 'false') throw new TsboxError(`${JSON.stringify(value)} is not a valid value for the "dangling" filter - must be true or false`);
          }
          tests.push((v) => values.some((value) => (value === 'true') === !inUse.has(v.Name)));
          break;
        default:
          throw new TsboxError(`${JSON.stringify(key)} is an invalid volume filter`);
      }
    }
    return (v) => tests.every((t) => t(v));
  }
}

const HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Mountpoint: 'MOUNTPOINT',
  CreatedAt: 'CREATED AT',
  Labels: 'LABELS',
  Scope: 'SCOPE',
  Options: 'OPTIONS',
};
