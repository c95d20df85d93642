import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class TopCommand extends BaseCommand {
  static override paths = [['top'], ['container', 'top']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'display the running processes of a container',
    details: `
      Lists the processes of a running container in podman's columns USER PID PPID %CPU ELAPSED TTY TIME COMMAND, with pids and users as the container sees them. The processes are read from the host's /proc (those in the container's pid namespace): nothing is run inside the container.

      Other columns are chosen with descriptors after the container, as \`pid,user,args\` or \`pid user args\`: user, group, huser, pid, hpid, ppid, pcpu, etime, tty, time, args, comm, nice, vsz, rss.
    `,
    examples: [
      ['The processes of a container', '$0 top web'],
      ['Host pids and commands', '$0 top web hpid pid args'],
    ],
  });

  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  args = Option.Rest({ name: 'CONTAINER [DESCRIPTORS...]' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { resolveContainer, latestContainer } = await import('../../core/container/lookup.js');
    const { readState } = await import('../../core/container/state.js');
    const { containerProcesses, parseDescriptors, DESCRIPTORS } = await import('../../core/container/top.js');
    const { renderTable } = await import('../format.js');

    const args = [...this.args];
    const latest = this.latest;
    if (!latest && args.length === 0) throw new TsboxError('you must provide the name or id of a running container');
    const containers = new ContainerStore();
    const id = latest ? await latestContainer(containers) : await resolveContainer(containers, args.shift()!);
    const descriptors = parseDescriptors(args);
    const state = await readState(containers, id);
    if (state.Status !== 'running' || state.Pid <= 0) throw new TsboxError('top can only be used on running containers');
    const processes = await containerProcesses(state.Pid);
    const rows = processes.map((p) => descriptors.map((d) => DESCRIPTORS[d]!.value(p)));
    this.context.stdout.write(renderTable([descriptors.map((d) => DESCRIPTORS[d]!.header), ...rows]));
    return 0;
  }
}
