import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class InfoCommand extends BaseCommand {
  static override paths = [['info'], ['system', 'info']];

  static override usage = Command.Usage({
    category: 'System',
    description: 'display tsbox related system information',
    details: `
      Shows what tsbox found on this host: kernel, distribution, architecture, the cgroup layout and the controllers delegated to you, your rootless id mappings and newuidmap/newgidmap, whether user namespaces and overlayfs in them are allowed, the network backends and their versions, seccomp, the runtime directory, the store (graph root, image and container counts) and the versions of tsbox and its helper. Under \`hints\`, each missing piece with the one-line fix.

      \`--format\` takes \`json\` or a Go template with podman's field names, e.g. \`{{.Host.Kernel}}\`, \`{{.Host.OS}}\`, \`{{.Store.GraphRoot}}\`, \`{{.Store.ImageStore.Number}}\`, \`{{.Version.Version}}\`.
    `,
    examples: [
      ['Show the report', '$0 info'],
      ['Machine-readable', '$0 info --format json'],
      ['One field', "$0 info --format '{{.Host.CgroupsVersion}}'"],
    ],
  });

  format = Option.String('-f,--format', { description: "Change the output format to JSON or a Go template" });

  async execute(): Promise<number> {
    const { hostInfo, templateView } = await import('../../core/host/info.js');
    const format = await import('../format.js');
    const info = await hostInfo();
    if (this.format === 'json') {
      this.context.stdout.write(format.formatJson(info));
    } else if (this.format !== undefined) {
      this.context.stdout.write(format.formatTemplate(this.format, [templateView(info) as Record<string, unknown>]));
    } else {
      this.context.stdout.write(toYaml(info));
    }
    return 0;
  }
}

/** A YAML scalar as go-yaml writes it: quoted when plain text would read as something else. */
function yamlScalar(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  const text = String(value);
  const plain =
    text !== '' &&
    !/^[\s\-?:,[\]{}#&*!|>'"%@`]/.test(text) &&
    !/\s$/.test(text) &&
    !/: |\s#|\n/.test(text) &&
    !/^(true|false|yes|no|on|off|null|~|[-+]?(\d[\d_]*)?\.?\d+([eE][-+]?\d+)?)$/i.test(text);
  return plain ? text : JSON.stringify(text);
}

/** podman's `info` layout: nested maps indented by two, sequences at their key's indent. */
export function toYaml(value: unknown, indent = ''): string {
  let out = '';
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (Array.isArray(v)) {
      if (v.length === 0) {
        out += `${indent}${key}: []\n`;
        continue;
      }
      out += `${indent}${key}:\n`;
      for (const item of v) {
        if (item !== null && typeof item === 'object') {
          const nested = toYaml(item, `${indent}  `);
          out += `${indent}- ${nested.slice(indent.length + 2)}`;
        } else {
          out += `${indent}- ${yamlScalar(item)}\n`;
        }
      }
    } else if (v !== null && typeof v === 'object') {
      out += Object.keys(v).length === 0 ? `${indent}${key}: {}\n` : `${indent}${key}:\n${toYaml(v, `${indent}  `)}`;
    } else {
      out += `${indent}${key}: ${yamlScalar(v)}\n`;
    }
  }
  return out;
}
