import { Command, Option } from 'clipanion';
import { ContainerCreateCommand } from '../create-options.js';

export class RunCommand extends ContainerCreateCommand {
  static override paths = [['run'], ['container', 'run']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'run a command in a new container',
    details: `
      Creates a container from IMAGE and runs COMMAND in it (the image's entrypoint and command by default), in the foreground, or in the background under a monitor with \`-d\` (it prints the container's id; see \`tsbox logs\`, \`tsbox attach\`, \`tsbox stop\`). The image is pulled first when it is not in the store (\`--pull\`).

      Options after IMAGE belong to COMMAND. The exit status is the command's (128+N when it was killed by signal N), 125 when tsbox itself failed, 126 when the command cannot be run and 127 when it is not found.
    `,
    examples: [
      ['Run a shell command and remove the container afterwards', '$0 run --rm alpine sh -c "echo hello"'],
      ['Build in the current directory', '$0 run --rm -v "$PWD:/src" -w /src image make'],
      ['An interactive shell', '$0 run --rm -it alpine'],
      ['A web server in the background', '$0 run -d --name web -p 8080:80 image httpd -f'],
    ],
  });

  detach = Option.Boolean('-d,--detach', false, { description: "Run in the background and print the container's id" });

  async execute(): Promise<number> {
    const { request, hooks } = await this.buildRequest({ detach: this.detach });
    await this.replaceExisting();
    if (!this.detach) {
      const { runImage } = await import('../../core/runtime/start.js');
      return runImage(request, { ...hooks, ...(this.cidfile !== undefined ? { onCreated: (id: string) => this.writeCidfile(id) } : {}) });
    }
    const [{ createContainer }, { startContainer }] = await Promise.all([
      import('../../core/runtime/start.js'),
      import('../../core/runtime/detached.js'),
    ]);
    const { currentDetachedRuntimeWarning } = await import('../../core/host/linger.js');
    const lingerWarning = currentDetachedRuntimeWarning();
    if (lingerWarning) hooks.reporter?.warn(lingerWarning);
    const created = await createContainer(request, hooks);
    try {
      await this.writeCidfile(created.record.Id);
      await startContainer(created.containers, created.record.Id, { ...(hooks.reporter ? { reporter: hooks.reporter } : {}), ...(hooks.seccomp ? { seccomp: hooks.seccomp } : {}) });
    } catch (err) {
      // podman keeps a container whose start failed (ps -a shows it); --rm removes it
      if (request.remove) {
        const { removeContainer } = await import('../../core/container/remove.js');
        await removeContainer(created.containers, created.record.Id, { force: true, volumes: true }).catch(() => {});
      }
      throw err;
    } finally {
      await created.release();
    }
    this.context.stdout.write(`${created.record.Id}\n`);
    return 0;
  }
}
