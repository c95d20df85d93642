import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class UnshareCommand extends BaseCommand {
  static override paths = [['unshare']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: "run a command in tsbox's user namespace",
    details: `
      Runs COMMAND (default: $SHELL, else /bin/sh) as root in the user namespace tsbox uses for its storage, with the same id mapping, as \`podman unshare\` does: files of the store owned by subordinate ids can be read, changed and removed there. stdin, stdout and stderr are passed through; the exit status is COMMAND's.
    `,
    examples: [
      ['See the owners of an image layer as containers see them', '$0 unshare ls -ln ~/.local/share/tsbox/layers'],
      ['Open a shell in the namespace', '$0 unshare'],
    ],
  });

  command = Option.Proxy({ name: 'COMMAND' });

  async execute(): Promise<number> {
    // One helper process, no second node: `tsbox-helper userns` runs the command
    // itself (127 not found, 126 not executable, 128+N for a signal).
    const [{ spawn }, { constants }, { helperPath, usernsHelperArgs }, { currentMapping, findMappingTools }, { TsboxError }] = await Promise.all([
      import('node:child_process'),
      import('node:os'),
      import('../../core/userns/helper.js'),
      import('../../core/userns/mapping.js'),
      import('../../core/errors.js'),
    ]);
    const mapping = currentMapping();
    if (mapping.warning) this.context.stderr.write(`WARN[0000] ${mapping.warning}\n`);
    const tools = mapping.full ? findMappingTools() : undefined;
    const argv = this.command.length > 0 ? this.command : [process.env.SHELL || '/bin/sh'];
    const args = ['userns', ...usernsHelperArgs(mapping, tools && !('missing' in tools) ? tools : undefined), '--', ...argv];
    const path = helperPath();
    const child = spawn(path, args, { stdio: 'inherit' });
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    const forwards = signals.map((signal) => {
      const forward = () => child.kill(signal);
      process.on(signal, forward);
      return () => process.off(signal, forward);
    });
    try {
      return await new Promise<number>((resolve, reject) => {
        child.on('error', (err) => reject(new TsboxError(`cannot run the helper ${path}: ${err.message}`, { hint: 'build it with `npm run build`' })));
        child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
      });
    } finally {
      forwards.forEach((off) => off());
    }
  }
}
