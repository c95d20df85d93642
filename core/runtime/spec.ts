// The container model: an OCI-runtime-spec-shaped description of one
// container, built from the image's config and the `run` options. Pure: no
// file is read here (env files are parsed from their text), so every rule
// (entrypoint/cmd, env precedence, defaults) is unit-tested as a table.
import { TsboxError } from '../errors.js';
import type { ImageConfig } from '../pull/config.js';
import type { NetworkMode as NetworkFlag } from '../network/mode.js';

/** A mount as the OCI runtime spec writes it. */
export interface Mount {
  /** absolute path inside the container */
  destination: string;
  /**
   * 'bind', 'tmpfs', 'proc', 'sysfs', or 'dev': tsbox's whole /dev (a tmpfs
   * with the standard nodes bound from the host, devpts, shm and mqueue),
   * what the helper's `--dev` sets up in one step.
   */
  type: string;
  source: string;
  /** 'ro' for a read-only bind; tmpfs options like 'size=64m', 'mode=1777' */
  options: string[];
}

export type NetworkMode = 'none' | 'host' | 'slirp4netns' | 'pasta';

export interface ContainerSpec {
  process: {
    args: string[];
    /** KEY=VALUE, in the order the container sees them */
    env: string[];
    cwd: string;
    /** `uid[:gid]` or `name[:group]`, resolved by the helper through the container's /etc/passwd */
    user: string;
    terminal: boolean;
    /** the capabilities kept; undefined: those the user namespace gives (no --cap) */
    capabilities?: string[];
    noNewPrivileges: boolean;
    /** a small pid 1 that reaps zombies and forwards signals */
    init: boolean;
  };
  root: {
    /** chain ids, bottom layer first (overlay), or a plain directory (--rootfs) */
    layers?: string[];
    rootfs?: string;
    readonly: boolean;
  };
  /** in the order they are mounted */
  mounts: Mount[];
  /** hidden paths (/dev/null or an empty tmpfs over them) */
  maskedPaths: string[];
  /** paths bound read-only over themselves */
  readonlyPaths: string[];
  hostname: string;
  namespaces: { network: boolean; ipc: boolean; uts: boolean; cgroup: boolean };
  /** the seccomp profile to compile: 'default', or a JSON profile's path; absent = unconfined */
  seccomp?: { profile: string };
  network: { mode: NetworkMode; ports: string[]; dns: string[]; addHosts: string[] };
  /** `--userns=keep-id`: the user's own uid/gid inside equals the outside one */
  userns?: 'keep-id';
}

/** A container's record beside its spec in config.json. */
export interface ContainerRecord {
  Id: string;
  Name: string;
  /** image id (hex) */
  Image: string;
  /** the name the user gave (full, normalised) */
  ImageName: string;
  Created: string;
  /** legacy: the state lives in state.json (core/container/state.ts) */
  State: 'created' | 'running' | 'exited';
  Spec: ContainerSpec;
  /** how the container is started, stopped and cleaned up (absent in records made before it existed) */
  Run?: ContainerRunConfig;
}

export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';

/** What start, stop, cleanup and restart need beyond the spec. */
export interface ContainerRunConfig {
  /** --rm: removed once it exits */
  Remove: boolean;
  /** -i: stdin kept open (through the monitor when detached) */
  Interactive: boolean;
  RestartPolicy: { Name: RestartPolicyName; MaximumRetryCount: number };
  /** the image's StopSignal, else SIGTERM */
  StopSignal: string;
  /** seconds stop waits before SIGKILL */
  StopTimeout: number;
  /** --network as given, to start the same backend again */
  NetworkFlag: NetworkFlag;
  /** anonymous volumes made for this container (removed with it by --rm and rm -v) */
  AnonymousVolumes: string[];
}

/** What `tsbox run` asks for beyond the image. */
export interface SpecOptions {
  /** the container's id: the default hostname is its first 12 characters */
  id: string;
  /** CMD given after the image; empty: the image's Cmd */
  command: string[];
  /** `--entrypoint`: '' clears the image's, '[...]' is a JSON array, anything else one word */
  entrypoint?: string;
  /** `-e` values in order: K=V, or K alone (taken from `callerEnv`, dropped when unset there) */
  env?: string[];
  /** the text of each `--env-file`, in order */
  envFiles?: string[];
  callerEnv?: NodeJS.ProcessEnv;
  workdir?: string;
  user?: string;
  hostname?: string;
  tty?: boolean;
  /** extra mounts (-v, --mount, --tmpfs), in order */
  mounts?: Mount[];
  readOnly?: boolean;
  privileged?: boolean;
  capabilities?: string[];
  noNewPrivileges?: boolean;
  /** 'unconfined', 'default' (when absent), or a profile's path */
  seccomp?: string;
  init?: boolean;
  network?: Partial<ContainerSpec['network']>;
  /** image layers (chain ids, bottom first) or --rootfs */
  layers?: string[];
  rootfs?: string;
  userns?: 'keep-id';
  /** the user's uid/gid outside (for keep-id's default user) */
  ownIds?: { uid: number; gid: number };
}

/** The PATH a container gets when its image sets none (podman's, which is docker's). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** podman's default masked paths (containers/common DefaultMaskedPaths). */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/dev/block',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
  '/sys/fs/selinux',
];

/** podman's default read-only paths (containers/common DefaultReadOnlyPaths). */
export const READONLY_PATHS = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The mounts every container gets before the user's, as podman gives them. */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'dev', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
}

/**
 * podman's --read-only-tmpfs (on by default): a read-only root still gets
 * writable /run, /tmp and /var/tmp, unless the user mounts something there.
 */
function readOnlyTmpfs(user: Mount[]): Mount[] {
  const taken = new Set(user.map((m) => m.destination));
  return ['/run', '/tmp', '/var/tmp']
    .filter((d) => !taken.has(d))
    .map((destination) => ({ destination, type: 'tmpfs', source: 'tmpfs', options: ['rw', 'nosuid', 'nodev', 'mode=1777'] }));
}

export class SpecError extends TsboxError {}

/** `--entrypoint` as podman reads it: '' clears, a JSON array is taken as is, else one word. */
export function parseEntrypoint(value: string): string[] {
  if (value === '') return [];
  if (value.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
  }
  return [value];
}

/**
 * The command the container runs (podman's makeCommand): the entrypoint
 * (given or the image's) followed by the CMD given, or the image's Cmd — which
 * is dropped when an entrypoint is given on the command line.
 */
export function containerCommand(image: ImageConfig['config'], command: string[], entrypoint?: string): string[] {
  const given = entrypoint === undefined ? undefined : parseEntrypoint(entrypoint);
  const entry = given ?? image?.Entrypoint ?? [];
  const args = command.length > 0 ? command : given && given.length > 0 ? [] : (image?.Cmd ?? []);
  const all = [...entry, ...args];
  if (all.length === 0) {
    throw new SpecError('no command or entrypoint provided, and no CMD or ENTRYPOINT from image', {
      hint: 'give the command after the image name',
    });
  }
  return all;
}

/**
 * An --env-file's variables (docker's format): `KEY=VALUE` lines taken
 * literally, `KEY` alone taken from the caller's environment (dropped when
 * unset), blank lines and `#` comments skipped.
 */
export function parseEnvFile(text: string, callerEnv: NodeJS.ProcessEnv = {}): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    out.push(...expandEnvEntry(line, callerEnv));
  }
  return out;
}

/** One `-e` value: `K=V` as it is, `K` alone from callerEnv (nothing when unset there). */
export function expandEnvEntry(entry: string, callerEnv: NodeJS.ProcessEnv): string[] {
  const eq = entry.indexOf('=');
  const key = eq < 0 ? entry : entry.slice(0, eq);
  if (key === '') throw new SpecError(`invalid environment variable ${JSON.stringify(entry)}: the name is empty`);
  if (/\s/.test(key)) throw new SpecError(`invalid environment variable ${JSON.stringify(key)}: the name contains whitespace`);
  if (eq >= 0) return [entry];
  const value = callerEnv[key];
  return value === undefined ? [] : [`${key}=${value}`];
}

/** Later entries win; the order is that of first appearance (as podman's env maps print). */
export function mergeEnv(layers: string[][]): string[] {
  const values = new Map<string, string>();
  for (const layer of layers) {
    for (const entry of layer) {
      const eq = entry.indexOf('=');
      const key = eq < 0 ? entry : entry.slice(0, eq);
      values.set(key, eq < 0 ? '' : entry.slice(eq + 1));
    }
  }
  return [...values].map(([k, v]) => `${k}=${v}`);
}

function hasKey(env: string[], key: string): boolean {
  return env.some((e) => e.startsWith(`${key}=`));
}

/** Builds the container's spec from its image config and the run options. */
export function buildSpec(image: ImageConfig, options: SpecOptions): ContainerSpec {
  const config = image.config ?? {};
  const callerEnv = options.callerEnv ?? {};
  const args = containerCommand(config, options.command, options.entrypoint);
  const hostname = options.hostname ?? options.id.slice(0, 12);

  // podman's order: its defaults, the image's Env, --env-file, then -e.
  const imageEnv = config.Env ?? [];
  const defaults = [`PATH=${DEFAULT_PATH}`, 'container=podman'];
  if (options.tty) defaults.push('TERM=xterm');
  const fromFiles = (options.envFiles ?? []).flatMap((text) => parseEnvFile(text, callerEnv));
  const fromFlags = (options.env ?? []).flatMap((e) => expandEnvEntry(e, callerEnv));
  let env = mergeEnv([defaults, imageEnv, fromFiles, fromFlags]);
  if (!hasKey(env, 'HOSTNAME')) env = [...env, `HOSTNAME=${hostname}`];

  const cwd = options.workdir || config.WorkingDir || '/';
  if (!cwd.startsWith('/')) throw new SpecError(`invalid working directory ${JSON.stringify(cwd)}: it must be an absolute path`);

  let user = options.user || config.User || '';
  if (!user) user = options.userns === 'keep-id' && options.ownIds ? `${options.ownIds.uid}:${options.ownIds.gid}` : '0:0';

  if (!options.rootfs && (!options.layers || options.layers.length === 0)) {
    throw new SpecError('the image has no layers to run from');
  }
  for (const mount of options.mounts ?? []) {
    if (!mount.destination.startsWith('/')) {
      throw new SpecError(`invalid mount destination ${JSON.stringify(mount.destination)}: it must be an absolute path`);
    }
  }

  const mode = options.network?.mode ?? 'slirp4netns';
  const seccomp = options.privileged || options.seccomp === 'unconfined' ? undefined : { profile: options.seccomp ?? 'default' };
  return {
    process: {
      args,
      env,
      cwd,
      user,
      terminal: options.tty ?? false,
      ...(options.capabilities ? { capabilities: options.capabilities } : {}),
      noNewPrivileges: options.noNewPrivileges ?? false,
      init: options.init ?? false,
    },
    root: options.rootfs
      ? { rootfs: options.rootfs, readonly: options.readOnly ?? false }
      : { layers: [...options.layers!], readonly: options.readOnly ?? false },
    mounts: [...defaultMounts(), ...(options.readOnly ? readOnlyTmpfs(options.mounts ?? []) : []), ...(options.mounts ?? [])],
    maskedPaths: options.privileged ? [] : [...MASKED_PATHS],
    readonlyPaths: options.privileged ? [] : [...READONLY_PATHS],
    hostname,
    namespaces: { network: mode !== 'host', ipc: true, uts: true, cgroup: true },
    ...(seccomp ? { seccomp } : {}),
    network: {
      mode,
      ports: options.network?.ports ?? [],
      dns: options.network?.dns ?? [],
      addHosts: options.network?.addHosts ?? [],
    },
    ...(options.userns ? { userns: options.userns } : {}),
  };
}
