import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class VersionCommand extends BaseCommand {
  static override paths = [['version'], ['system', 'version']];

  static override usage = Command.Usage({
    category: 'System',
    description: 'display the tsbox version information',
    details: `
      Prints the versions of tsbox, its helper (\`tsbox-helper --version\`) and Node.js, the OS and architecture, and the host features tsbox found (as \`tsbox info\` reports them): cgroups, user namespaces and the id mapping, overlayfs, the network backend, seccomp and the runtime directory, with a one-line fix for each missing piece. \`tsbox --version --verbose\` prints the same; plain \`tsbox --version\` prints \`tsbox version X\` (podman's line, first), the helper's version and the host features on one line.

      \`--format\` takes \`json\` or a Go template over \`.Client\` (\`Version\`, \`HelperVersion\`, \`NodeVersion\`, \`OsArch\`).
    `,
    examples: [
      ['Versions and host features', '$0 version'],
      ['Only the version of tsbox', "$0 version --format '{{.Client.Version}}'"],
      ['Everything, machine-readable', '$0 version --format json'],
    ],
  });

  format = Option.String('-f,--format', { description: 'Change the output format to JSON or a Go template' });
  verbose = Option.Boolean('--verbose', false, { description: 'Accepted for `tsbox --version --verbose`; the output is the same' });
  // `tsbox --version`: the version line first, as podman's, then the helper and the host in brief
  brief = Option.Boolean('--brief', false, { hidden: true });

  async execute(): Promise<number> {
    const { hostInfo } = await import('../../core/host/info.js');
    const format = await import('../format.js');
    const info = await hostInfo();
    if (this.format === 'json') {
      this.context.stdout.write(format.formatJson({ Client: info.version, Host: info.host, Hints: info.hints }));
      return 0;
    }
    if (this.format !== undefined) {
      this.context.stdout.write(format.formatTemplate(this.format, [{ Client: info.version }]));
      return 0;
    }
    const { host } = info;
    const rows: Array<[string, string]> = [
      ['Version', info.version.Version],
      ['Helper Version', info.version.HelperVersion || 'not found'],
      ['Node Version', info.version.NodeVersion],
      ['OS/Arch', info.version.OsArch],
      ['Kernel', host.kernel],
      ['Cgroups', `${host.cgroupVersion}${host.cgroupControllers.length ? ` (delegated: ${host.cgroupControllers.join(' ')})` : ' (no controllers delegated)'}`],
      ['User Namespaces', host.userns.allowed ? 'allowed' : `not allowed: ${host.userns.reason}`],
      ['ID Mapping', host.idMappings.uidmap.length > 1 ? `${host.idMappings.uidmap.reduce((n, m) => n + m.size, 0)} uids (newuidmap ${host.userns.newuidmap})` : 'your own uid only'],
      ['Overlay', host.overlay.native ? 'native, in a user namespace' : 'not available in a user namespace'],
      ['Network', host.rootlessNetworkCmd ? `${host.rootlessNetworkCmd}${versionOf(host[host.rootlessNetworkCmd]?.version)}` : 'none (only --network none or host)'],
      ['Seccomp', host.security.seccompEnabled ? 'enabled' : 'not available'],
      ['Runtime Dir', `${host.runtimeDir.path}${host.runtimeDir.fallback ? ' (fallback)' : ''}`],
    ];
    if (this.brief) {
      const value = (key: string) => rows.find(([k]) => k === key)![1];
      const features = [
        `user namespaces ${value('User Namespaces')}`,
        `id mapping ${value('ID Mapping')}`,
        `overlay ${value('Overlay')}`,
        `network ${value('Network')}`,
        `cgroups ${value('Cgroups')}`,
        `seccomp ${value('Seccomp')}`,
      ];
      this.context.stdout.write(`tsbox version ${info.version.Version}\nhelper version ${info.version.HelperVersion || 'not found'}\nhost: ${features.join('; ')}\n`);
      return 0;
    }
    const width = Math.max(...rows.map(([key]) => key.length)) + 2;
    let text = rows.map(([key, value]) => `${`${key}:`.padEnd(width)}${value}\n`).join('');
    if (info.hints.length > 0) text += `\nHints:\n${info.hints.map((hint) => `  - ${hint}\n`).join('')}`;
    this.context.stdout.write(text);
    return 0;
  }
}

function versionOf(line: string | undefined): string {
  const version = line?.match(/\d+[\w.+-]*/)?.[0];
  return version ? ` ${version}` : '';
}
