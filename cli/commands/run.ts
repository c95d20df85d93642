import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.js';
import { parseTlsVerify, tlsVerifyOption } from '../options.js';

const PULL_POLICIES = ['missing', 'always', 'never'] as const;

export class RunCommand extends BaseCommand {
  static override paths = [['run'], ['container', 'run']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'run a command in a new container',
    details: `
      Creates a container from IMAGE and runs COMMAND in it (the image's entrypoint and command by default), in the foreground. The image is pulled first when it is not in the store (\`--pull\`).

      Options after IMAGE belong to COMMAND. The exit status is the command's (128+N when it was killed by signal N), 125 when tsbox itself failed, 126 when the command cannot be run and 127 when it is not found.
    `,
    examples: [
      ['Run a shell command and remove the container afterwards', '$0 run --rm alpine sh -c "echo hello"'],
      ['Build in the current directory', '$0 run --rm -v "$PWD:/src" -w /src image make'],
      ['An interactive shell', '$0 run --rm -it alpine'],
    ],
  });

  remove = Option.Boolean('--rm', false, { description: 'Remove the container when it exits' });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'Keep stdin attached (without -i or -t the container reads /dev/null)' });
  tty = Option.Boolean('-t,--tty', false, { description: 'Allocate a pseudo-terminal' });
  detach = Option.Boolean('-d,--detach', false, { description: 'Run in the background (not yet supported)' });
  name = Option.String('--name', { description: 'Name the container' });
  env = Option.Array('-e,--env', { description: 'Set an environment variable: KEY=VALUE, or KEY to take it from here' });
  envFile = Option.Array('--env-file', { description: 'Read environment variables from a file' });
  volume = Option.Array('-v,--volume', { description: 'Bind mount a volume: [SOURCE:]DEST[:OPTIONS]' });
  mount = Option.Array('--mount', { description: 'Attach a filesystem mount: type=bind|volume|tmpfs,...' });
  tmpfs = Option.Array('--tmpfs', { description: 'Mount a tmpfs: DEST[:OPTIONS]' });
  workdir = Option.String('-w,--workdir', { description: 'Working directory inside the container' });
  user = Option.String('-u,--user', { description: 'User to run as: name|uid[:group|gid]' });
  hostname = Option.String('-h,--hostname', { description: 'Container host name' });
  entrypoint = Option.String('--entrypoint', { description: "Override the image's entrypoint ('' clears it)" });
  network = Option.String('--network,--net', { description: 'Network mode: private (default), none, host, slirp4netns[:OPTIONS], pasta[:ARGS]' });
  publish = Option.Array('-p,--publish', { description: 'Publish a port: [[IP:]HOST:]CONTAINER[/PROTOCOL]' });
  dns = Option.Array('--dns', { description: 'Set a DNS server' });
  addHost = Option.Array('--add-host', { description: 'Add a host:IP entry to /etc/hosts' });
  capAdd = Option.Array('--cap-add', { description: 'Add a capability' });
  capDrop = Option.Array('--cap-drop', { description: 'Drop a capability' });
  privileged = Option.Boolean('--privileged', false, { description: 'All capabilities, no masked paths, no seccomp' });
  securityOpt = Option.Array('--security-opt', { description: 'seccomp=unconfined|PATH, no-new-privileges' });
  readOnly = Option.Boolean('--read-only', false, { description: 'Mount the root filesystem read-only' });
  rootfs = Option.Boolean('--rootfs', false, { description: 'IMAGE is a directory to use as the root filesystem' });
  init = Option.Boolean('--init', false, { description: 'Run a small init as pid 1 that reaps zombies and forwards signals' });
  pull = Option.String('--pull', { description: 'Pull the image: missing (default), always, never' });
  userns = Option.String('--userns', { description: 'keep-id: your uid and gid inside equal the outside ones' });
  platform = Option.String('--platform', { description: 'Pull OS/ARCH[/VARIANT] when the image is pulled' });
  tlsVerify = tlsVerifyOption();
  image = Option.String({ name: 'IMAGE' });
  command = Option.Proxy({ name: 'COMMAND' });

  async execute(): Promise<number> {
    if (this.detach) {
      throw new UsageError('detached containers (-d) are not supported yet: run in the foreground, e.g. under systemd or with nohup');
    }
    const pull = this.pull ?? 'missing';
    if (!(PULL_POLICIES as readonly string[]).includes(pull)) throw new UsageError(`invalid --pull ${JSON.stringify(pull)}: use missing, always or never`);
    if (this.userns !== undefined && this.userns !== 'keep-id' && this.userns !== '') {
      throw new UsageError(`unsupported --userns ${JSON.stringify(this.userns)}: only keep-id is supported`);
    }
    let seccomp: string | undefined;
    let noNewPrivileges = false;
    for (const opt of this.securityOpt ?? []) {
      if (opt === 'no-new-privileges' || opt === 'no-new-privileges=true') noNewPrivileges = true;
      else if (opt === 'no-new-privileges=false') noNewPrivileges = false;
      else if (opt.startsWith('seccomp=') || opt.startsWith('seccomp:')) seccomp = opt.slice('seccomp='.length);
      else throw new UsageError(`unsupported --security-opt ${JSON.stringify(opt)}: use seccomp=unconfined|PATH or no-new-privileges`);
    }
    const tlsVerify = parseTlsVerify(this.tlsVerify);

    const [{ runImage }, { containerSeccomp }, { createReporter }, { resolveCapabilities }, { parseNetworkMode }] = await Promise.all([
      import('../../core/runtime/start.js'),
      import('../../core/runtime/seccomp.js'),
      import('../reporter.js'),
      import('../../core/security/capabilities.js'),
      import('../../core/network/mode.js'),
    ]);
    const networkFlag = parseNetworkMode(this.network ?? 'private');
    if (this.publish?.length) {
      const { parsePublishList } = await import('../../core/network/publish.js');
      parsePublishList(this.publish); // refused here, before anything is created
    }
    let mountEntries;
    if (this.volume?.length || this.mount?.length || this.tmpfs?.length) {
      const { parseMountFlags, checkBindSources } = await import('../../core/volume/mount-flags.js');
      mountEntries = parseMountFlags({ volume: this.volume ?? [], mount: this.mount ?? [], tmpfs: this.tmpfs ?? [] }, { cwd: process.cwd() });
      checkBindSources(mountEntries);
    }
    const reporter = createReporter({ quiet: false, stderr: this.context.stderr });
    const capabilities = resolveCapabilities({ add: this.capAdd ?? [], drop: this.capDrop ?? [], privileged: this.privileged });
    return runImage(
      {
        image: this.image,
        command: this.command,
        ...(this.entrypoint !== undefined ? { entrypoint: this.entrypoint } : {}),
        env: this.env ?? [],
        envFilePaths: this.envFile ?? [],
        callerEnv: process.env,
        ...(this.workdir !== undefined ? { workdir: this.workdir } : {}),
        ...(this.user !== undefined ? { user: this.user } : {}),
        ...(this.hostname !== undefined ? { hostname: this.hostname } : {}),
        ...(this.name !== undefined ? { name: this.name } : {}),
        tty: this.tty,
        readOnly: this.readOnly,
        privileged: this.privileged,
        capabilities,
        noNewPrivileges,
        ...(seccomp !== undefined ? { seccomp } : {}),
        init: this.init,
        networkFlag,
        publish: this.publish ?? [],
        dns: this.dns ?? [],
        addHosts: this.addHost ?? [],
        ...(mountEntries ? { mountEntries } : {}),
        ...(this.rootfs ? { rootfs: this.image } : {}),
        ...(this.userns === 'keep-id' ? { userns: 'keep-id' as const } : {}),
        remove: this.remove,
        interactive: this.interactive,
        pull: pull as 'missing' | 'always' | 'never',
      },
      {
        reporter,
        pull: (image) => pullWithTsbox(image, { platform: this.platform, tlsVerify }),
        seccomp: containerSeccomp,
      },
    );
  }
}

/**
 * Pulls through `tsbox pull` in a child process, the path a plain pull takes
 * (it re-executes itself in the user namespace); progress goes to our stderr,
 * the image id it prints comes back here. Only a missing image pays for this.
 */
async function pullWithTsbox(image: string, options: { platform?: string; tlsVerify?: boolean }): Promise<string> {
  const { spawn } = await import('node:child_process');
  const { ExitCode } = await import('../base.js');
  const args = [...process.execArgv, process.argv[1]!, 'pull'];
  if (options.platform) args.push('--platform', options.platform);
  if (options.tlsVerify !== undefined) args.push(`--tls-verify=${options.tlsVerify}`);
  args.push(image);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 125));
  });
  const id = out.trim().split('\n').pop() ?? '';
  // the pull has already printed its error on stderr
  if (code !== 0 || !/^[0-9a-f]{64}$/.test(id)) throw new ExitCode(125);
  return id;
}
