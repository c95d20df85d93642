// The options `run` and `create` share (podman's create flags), and their
// translation into a RunRequest for core/runtime. Nothing is loaded until a
// command runs: the warm path of `run` stays lean.
import { Option, UsageError } from 'clipanion';
import { BaseCommand } from './base.js';
import { parseTlsVerify, tlsVerifyOption } from './options.js';
import type { RunHooks, RunRequest } from '../core/runtime/start.js';
import type { RestartPolicyName } from '../core/runtime/spec.js';

const PULL_POLICIES = ['missing', 'always', 'never'] as const;
const RESTART_POLICIES: RestartPolicyName[] = ['no', 'on-failure', 'always', 'unless-stopped'];

/** `--restart` as podman takes it: no, on-failure[:N], always, unless-stopped. */
export function parseRestartPolicy(value: string): { Name: RestartPolicyName; MaximumRetryCount: number } {
  const [name, count, ...rest] = value.split(':');
  if (!RESTART_POLICIES.includes(name as RestartPolicyName) || rest.length > 0 || (count !== undefined && name !== 'on-failure')) {
    throw new UsageError(`invalid restart policy ${JSON.stringify(value)}: use no, on-failure[:max_retries], always or unless-stopped`);
  }
  if (count !== undefined && !/^\d+$/.test(count)) throw new UsageError(`invalid restart policy ${JSON.stringify(value)}: the retry count must be a whole number`);
  return { Name: name as RestartPolicyName, MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

export abstract class ContainerCreateCommand extends BaseCommand {
  remove = Option.Boolean('--rm', false, { description: 'Remove the container when it exits' });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'Keep stdin attached (without -i or -t the container reads /dev/null)' });
  tty = Option.Boolean('-t,--tty', false, { description: 'Allocate a pseudo-terminal' });
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

  restart = Option.String('--restart', { description: 'Restart policy when the container exits: no, on-failure[:N], always, unless-stopped (detached containers)' });
  stopSignal = Option.String('--stop-signal', { description: "Signal to stop the container (default: the image's, else SIGTERM)" });
  stopTimeout = Option.String('--stop-timeout', { description: 'Seconds to wait for the stop signal before SIGKILL (default 10)' });
  cidfile = Option.String('--cidfile', { description: "Write the container's id to this file" });
  replace = Option.Boolean('--replace', false, { description: 'Remove an existing container of the same --name first' });
  image = Option.String({ name: 'IMAGE' });
  command = Option.Proxy({ name: 'COMMAND' });

  /** The request and hooks for core/runtime, from the options; refuses bad values before anything is created. */
  protected async buildRequest(extra: { detach: boolean }): Promise<{ request: RunRequest; hooks: RunHooks }> {
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

    const [{ containerSeccomp }, { createReporter }, { resolveCapabilities }, { parseNetworkMode }] = await Promise.all([
      import('../core/runtime/seccomp.js'),
      import('./reporter.js'),
      import('../core/security/capabilities.js'),
      import('../core/network/mode.js'),
    ]);
    const networkFlag = parseNetworkMode(this.network ?? 'private');
    if (this.publish?.length) {
      const { parsePublishList } = await import('../core/network/publish.js');
      parsePublishList(this.publish); // refused here, before anything is created
    }
    let mountEntries;
    if (this.volume?.length || this.mount?.length || this.tmpfs?.length) {
      const { parseMountFlags, checkBindSources } = await import('../core/volume/mount-flags.js');
      mountEntries = parseMountFlags({ volume: this.volume ?? [], mount: this.mount ?? [], tmpfs: this.tmpfs ?? [] }, { cwd: process.cwd() });
      checkBindSources(mountEntries);
    }
    const reporter = createReporter({ quiet: false, stderr: this.context.stderr });
    const capabilities = resolveCapabilities({ add: this.capAdd ?? [], drop: this.capDrop ?? [], privileged: this.privileged });
    const restart = this.restart !== undefined ? parseRestartPolicy(this.restart) : undefined;
    if (restart && restart.Name !== 'no' && this.remove) throw new UsageError('the --rm option conflicts with --restart');
    let stopTimeout: number | undefined;
    if (this.stopTimeout !== undefined) {
      if (!/^\d+$/.test(this.stopTimeout)) throw new UsageError(`invalid --stop-timeout ${JSON.stringify(this.stopTimeout)}: a whole number of seconds`);
      stopTimeout = Number(this.stopTimeout);
    }
    if (this.replace && this.name === undefined) throw new UsageError('cannot replace container without --name being set');
    const request: RunRequest = {
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
    };
    request.detach = extra.detach;
    if (restart) request.restart = restart;
    if (this.stopSignal !== undefined) request.stopSignal = normalizeSignal(this.stopSignal);
    if (stopTimeout !== undefined) request.stopTimeout = stopTimeout;
    const hooks: RunHooks = {
      reporter,
      pull: (image) => pullWithTsbox(image, { platform: this.platform, tlsVerify }),
      seccomp: containerSeccomp,
    };
    return { request, hooks };
  }

  /** --replace: the container holding our --name goes first (killed if it runs). */
  protected async replaceExisting(): Promise<void> {
    if (!this.replace || this.name === undefined) return;
    const [{ ContainerStore }, { resolveContainer }, { removeContainer }] = await Promise.all([
      import('../core/runtime/containers.js'),
      import('../core/container/lookup.js'),
      import('../core/container/remove.js'),
    ]);
    const containers = new ContainerStore();
    let id: string;
    try {
      id = await resolveContainer(containers, this.name);
    } catch {
      return; // nothing to replace
    }
    await removeContainer(containers, id, { force: true, volumes: true });
  }

  protected async writeCidfile(id: string): Promise<void> {
    if (this.cidfile === undefined) return;
    const { writeFile } = await import('node:fs/promises');
    try {
      await writeFile(this.cidfile, id, { flag: 'wx' });
    } catch (err) {
      const { TsboxError } = await import('../core/errors.js');
      const code = (err as NodeJS.ErrnoException).code;
      throw new TsboxError(code === 'EEXIST' ? `container id file ${this.cidfile} exists` : `writing --cidfile ${this.cidfile}: ${(err as Error).message}`, {
        ...(code === 'EEXIST' ? { hint: 'remove it or choose another path' } : {}),
      });
    }
  }
}

/** SIGTERM, TERM and 15 all mean SIGTERM. */
export function normalizeSignal(value: string): string {
  const upper = value.toUpperCase();
  if (/^\d+$/.test(upper)) return upper;
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

/**
 * Pulls through `tsbox pull` in a child process, the path a plain pull takes
 * (it re-executes itself in the user namespace); progress goes to our stderr,
 * the image id it prints comes back here. Only a missing image pays for this.
 */
async function pullWithTsbox(image: string, options: { platform?: string; tlsVerify?: boolean }): Promise<string> {
  const { spawn } = await import('node:child_process');
  const { ExitCode } = await import('./base.js');
  const { MAPPING_WARNED_ENV } = await import('../core/userns/session.js');
  const args = [...process.execArgv, process.argv[1]!, 'pull'];
  if (options.platform) args.push('--platform', options.platform);
  if (options.tlsVerify !== undefined) args.push(`--tls-verify=${options.tlsVerify}`);
  args.push(image);
  // run and create warn about the id mapping themselves: the pull need not say it again
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, [MAPPING_WARNED_ENV]: '1' } });
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
