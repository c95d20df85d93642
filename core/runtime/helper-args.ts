// Lowers a ContainerSpec to the options of `tsbox-helper run` (docs/internals.md,
// "The helper's run mode"): bubblewrap-style, in the order the helper carries
// them out. Pure, so the whole translation is unit-tested; the result goes to
// the helper NUL-separated over `--args FD`, never on its command line.
import { usernsHelperArgs } from '../userns/helper.js';
import type { MappingTools, UserMapping } from '../userns/mapping.js';
import { overlayHelperArgs, type OverlayPlan } from './overlay.js';
import { SpecError, type ContainerSpec, type Mount } from './spec.js';

export interface HelperPaths {
  /** the store's layers/ directory; lower dirs are given relative to it */
  layersDir: string;
  /** the container's writable layer, overlay work dir and mount point */
  upper: string;
  work: string;
  merged: string;
  /** which overlay mounts the root (core/runtime/overlay.ts); absent: the kernel's */
  overlay?: OverlayPlan;
  /** file descriptors as the helper sees them */
  statusFd: number;
  /** with a terminal: stdin is not the command's (-t without -i): not relayed, no raw mode */
  ttyWithoutStdin?: boolean;
  syncFd?: number;
  seccompFd?: number;
  /** removed inside the user namespace once the container has exited (--rm) */
  removeAfterExit?: string[];
  mapping: UserMapping;
  tools: MappingTools | undefined;
  own?: { uid: number; gid: number };
  /** where the helper writes the exit record (both modes) */
  exitFile?: string;
  /** the helper stays behind as the container's monitor (detached containers) */
  monitor?: MonitorOptions;
}

/** What makes the helper a monitor (docs/internals.md, "The monitor"). */
export interface MonitorOptions {
  logFile: string;
  attachSocket: string;
  /** -i: the container's stdin is a pipe fed by attach clients */
  stdinPipe: boolean;
  /** run once the container has exited: program, then its arguments */
  exitCommand?: string[];
}

/** The hex directory of a chain id under layers/: `<hex>/diff`. */
function lowerDir(chainId: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(chainId);
  if (!match) throw new SpecError(`invalid layer id ${JSON.stringify(chainId)}`);
  return `${match[1]}/diff`;
}

function mountArgs(mount: Mount): string[] {
  switch (mount.type) {
    case 'proc':
      return ['--proc', mount.destination];
    case 'dev':
      return ['--dev', mount.destination];
    case 'sysfs':
      return ['--sys', mount.destination];
    case 'bind':
      return [mount.options.includes('ro') ? '--ro-bind' : '--bind', mount.source, mount.destination];
    case 'tmpfs': {
      // flags the helper always applies or that podman accepts and ignores here
      const data = mount.options.filter((o) => !['rw', 'nosuid', 'nodev', 'noexec', 'tmpcopyup', 'notmpcopyup'].includes(o));
      return ['--tmpfs', mount.destination, data.length > 0 ? data.join(',') : '-'];
    }
    default:
      throw new SpecError(`unsupported mount type ${JSON.stringify(mount.type)} at ${mount.destination}`);
  }
}

/** `tsbox-helper run`'s arguments after the mode: options, `--`, the command. */
export function helperArgs(spec: ContainerSpec, paths: HelperPaths): string[] {
  const args: string[] = [...usernsHelperArgs(paths.mapping, paths.tools, paths.own)];

  if (spec.namespaces.network) args.push('--unshare-net');
  if (spec.namespaces.ipc) args.push('--unshare-ipc');
  if (spec.namespaces.uts) args.push('--unshare-uts');
  if (spec.namespaces.cgroup) args.push('--unshare-cgroup');

  if (spec.root.rootfs) {
    args.push('--rootfs', spec.root.rootfs, paths.merged);
  } else {
    const layers = spec.root.layers ?? [];
    if (layers.length === 0) throw new SpecError('the container has neither layers nor a rootfs');
    args.push('--overlay-layers-dir', paths.layersDir);
    for (const chainId of layers) args.push('--overlay-lower', lowerDir(chainId));
    args.push('--overlay', paths.upper, paths.work, paths.merged);
    args.push(...overlayHelperArgs(paths.overlay));
  }

  for (const mount of spec.mounts) args.push(...mountArgs(mount));
  for (const path of spec.maskedPaths) args.push('--mask', path);
  for (const path of spec.readonlyPaths) args.push('--ro', path);
  if (spec.root.readonly) args.push('--read-only');

  const p = spec.process;
  if (spec.namespaces.uts) args.push('--hostname', spec.hostname);
  args.push('--chdir', p.cwd);
  args.push('--clearenv');
  for (const entry of p.env) {
    const eq = entry.indexOf('=');
    args.push('--setenv', entry.slice(0, eq), entry.slice(eq + 1));
  }
  args.push('--user', p.user);
  if (p.capabilities) args.push('--cap', p.capabilities.join(','));
  if (p.noNewPrivileges) args.push('--no-new-privs');
  if (paths.seccompFd !== undefined) args.push('--seccomp', String(paths.seccompFd));
  if (p.init) args.push('--init');
  if (p.terminal) args.push('--tty');
  if (p.terminal && paths.ttyWithoutStdin) args.push('--no-stdin');

  args.push('--status-fd', String(paths.statusFd));
  if (paths.syncFd !== undefined) args.push('--sync-fd', String(paths.syncFd));
  for (const dir of paths.removeAfterExit ?? []) args.push('--remove-after-exit', dir);
  if (paths.exitFile) args.push('--exit-file', paths.exitFile);
  const m = paths.monitor;
  if (m) {
    args.push('--detach', '--log-file', m.logFile, '--attach-socket', m.attachSocket);
    if (m.stdinPipe) args.push('--stdin-pipe');
    if (m.exitCommand?.length) {
      args.push('--exit-command', m.exitCommand[0]!);
      for (const arg of m.exitCommand.slice(1)) args.push('--exit-arg', arg);
    }
  }

  args.push('--', ...p.args);
  return args;
}
