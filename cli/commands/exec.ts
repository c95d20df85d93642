import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.js';

export class ExecCommand extends BaseCommand {
  static override paths = [['exec'], ['container', 'exec']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'run a process in a running container',
    details: `
      Runs COMMAND in the namespaces and root of a running container, with the container's environment, user, working directory, capabilities and seccomp filter unless overridden. Options after CONTAINER belong to COMMAND.

      The exit status is COMMAND's (128+N when it was killed by signal N), 125 when tsbox itself failed (a container that is not running included), 126 when COMMAND cannot be run and 127 when it is not found.

      With \`-d\` the command keeps running in the background and tsbox prints nothing (podman prints an exec session id; tsbox has no exec sessions to inspect): it returns once the command has started, with 126 or 127 when it could not.
    `,
    examples: [
      ['A shell in a running container', '$0 exec -it web sh'],
      ['A command as root with an extra variable', '$0 exec -u 0 -e DEBUG=1 web env'],
      ['In the latest container', '$0 exec -l ps'],
    ],
  });

  interactive = Option.Boolean('-i,--interactive', false, { description: 'Keep stdin attached (without -i or -t the command reads /dev/null)' });
  tty = Option.Boolean('-t,--tty', false, { description: 'Allocate a pseudo-terminal' });
  detach = Option.Boolean('-d,--detach', false, { description: 'Run the command in the background' });
  env = Option.Array('-e,--env', { description: 'Set an environment variable: KEY=VALUE, or KEY to take it from here' });
  envFile = Option.Array('--env-file', { description: 'Read environment variables from a file' });
  user = Option.String('-u,--user', { description: 'User to run as: name|uid[:group|gid] (default: the container\'s)' });
  workdir = Option.String('-w,--workdir', { description: 'Working directory inside the container (default: the container\'s)' });
  privileged = Option.Boolean('--privileged', false, { description: 'Every capability for the command' });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  // with --latest the first word is already the command
  first = Option.String({ name: 'CONTAINER' });
  rest = Option.Proxy({ name: 'COMMAND' });

  async execute(): Promise<number> {
    const { TsboxError, describeSystemError } = await import('../../core/errors.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { resolveContainer, latestContainer } = await import('../../core/container/lookup.js');
    const { execInContainer } = await import('../../core/runtime/exec.js');
    const { createReporter } = await import('../reporter.js');

    const words = this.latest ? [this.first, ...this.rest] : [...this.rest];
    if (words[0] === '--') words.shift();
    if (words.length === 0) throw new UsageError('must provide a non-empty command to start an exec session');
    const envFiles: string[] = [];
    for (const path of this.envFile ?? []) {
      try {
        const { readFile } = await import('node:fs/promises');
        envFiles.push(await readFile(path, 'utf8'));
      } catch (err) {
        throw new TsboxError(`reading --env-file ${path}: ${describeSystemError(err)}`);
      }
    }
    const containers = new ContainerStore();
    const id = this.latest ? await latestContainer(containers) : await resolveContainer(containers, this.first);
    return execInContainer(
      containers,
      id,
      {
        command: words,
        interactive: this.interactive,
        tty: this.tty,
        detach: this.detach,
        env: this.env ?? [],
        envFiles,
        callerEnv: process.env,
        ...(this.user !== undefined ? { user: this.user } : {}),
        ...(this.workdir !== undefined ? { workdir: this.workdir } : {}),
        privileged: this.privileged,
      },
      {
        reporter: createReporter({ quiet: false, stderr: this.context.stderr }),
        // loaded only for a container that has no program kept
        seccomp: async (spec) => (await import('../../core/runtime/seccomp.js')).containerSeccomp(spec),
      },
    );
  }
}
