import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class PortCommand extends BaseCommand {
  static override paths = [['port'], ['container', 'port']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'list port mappings or a specific mapping for the container',
    details: `
      Prints the published ports of a running container as podman does, \`80/tcp -> 0.0.0.0:8080\`, with the host ports as assigned. Given PRIVATE_PORT[/PROTO] (tcp when not given), prints only the host address and port it is published on. \`-a\` lists every running container's ports, each line after its short id.
    `,
    examples: [
      ['All ports of a container', '$0 port web'],
      ['Where port 80 is published', '$0 port web 80'],
      ['Every running container', '$0 port -a'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Display port information for all containers' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  args = Option.Rest({ name: 'CONTAINER [PRIVATE_PORT[/PROTO]]' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { resolveContainer, latestContainer } = await import('../../core/container/lookup.js');
    const { loadContainer, loadContainers, containerPorts } = await import('../../core/container/list.js');

    const args = [...this.args];
    if (this.all && this.latest) throw new TsboxError('--all and --latest cannot be used together');
    const byName = !this.all && !this.latest;
    if (byName && args.length === 0) throw new TsboxError('you must supply a running container name or ID');
    const containerArg = byName ? args.shift()! : undefined;
    if (args.length > 1) throw new TsboxError('`port` accepts at most one port argument');
    if (this.all && args.length > 0) throw new TsboxError('the port argument cannot be used with --all');

    let port = 0;
    let proto = 'tcp';
    if (args.length === 1) {
      const [number, protocol, extra] = args[0]!.split('/');
      if (extra !== undefined || !/^\d+$/.test(number ?? '') || Number(number) < 1 || Number(number) > 65535) {
        throw new TsboxError(`invalid port ${JSON.stringify(args[0])}`, { hint: 'give PRIVATE_PORT[/PROTO], e.g. 80/tcp' });
      }
      port = Number(number);
      if (protocol !== undefined) proto = protocol.toLowerCase();
    }

    const containers = new ContainerStore();
    const entries = this.all
      ? await loadContainers(containers)
      : [await loadContainer(containers, containerArg === undefined ? await latestContainer(containers) : await resolveContainer(containers, containerArg))];

    let text = '';
    for (const entry of entries) {
      // podman reports the ports of running containers only
      if (!entry || entry.state.Status !== 'running') continue;
      const prefix = this.all ? `${entry.record.Id.slice(0, 12)}\t` : '';
      let found = false;
      for (const m of containerPorts(entry)) {
        const ip = m.hostIp || '0.0.0.0';
        if (port === 0) {
          for (let k = 0; k < m.range; k++) text += `${prefix}${m.containerPort + k}/${m.protocol} -> ${ip}:${m.hostPort + k}\n`;
        } else if (m.protocol === proto && m.containerPort <= port && port < m.containerPort + m.range) {
          text += `${ip}:${m.hostPort + (port - m.containerPort)}\n`;
          found = true;
          break;
        }
      }
      if (port !== 0 && !found) {
        this.context.stdout.write(text);
        throw new TsboxError(`failed to find published port ${JSON.stringify(args[0])}`);
      }
    }
    this.context.stdout.write(text);
    return 0;
  }
}
