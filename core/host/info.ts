// What `tsbox info` reports: the host features tsbox relies on, found
// cheaply (files under /proc and /sys, a few --version runs, one user
// namespace probe), and for each missing piece a one-line fix. Field names
// follow podman's `info` JSON where podman has the field; the rest are
// tsbox's own. The parsers are pure so that every host layout can be tested.
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { hostname, release, userInfo } from 'node:os';
import { join } from 'node:path';
import { availableBackends, defaultBackend, type Backend } from '../network/mode.js';
import { runtimeDir, storeRoot } from '../paths.js';
import { findPackageRoot, helperPath } from '../userns/helper.js';
import { currentMapping, findMappingTools, parseSubordinateIds, type IdRange } from '../userns/mapping.js';
import { nativeOverlayInUserns, overlayHost, planOverlay } from '../runtime/overlay.js';
import type { TsboxError } from '../errors.js';

export interface IdMap {
  container_id: number;
  host_id: number;
  size: number;
}

export interface ProgramInfo {
  executable: string;
  package: string;
  version: string;
}

export type CgroupMode = 'unified' | 'hybrid' | 'legacy' | 'none';

export interface CgroupInfo {
  mode: CgroupMode;
  /** where the cgroup v2 hierarchy is mounted ('' when it is not) */
  v2Mount: string;
  /** this process's cgroup in the v2 hierarchy */
  v2Path: string;
  /** cgroup.controllers of our own cgroup: what the parent cgroup enabled for it */
  v2Controllers: string[];
  /** cgroup.subtree_control of our own cgroup: what it passes on to child cgroups */
  v2SubtreeControl: string[];
  /** our own cgroup is writable by us, so its controllers are ours to use */
  delegated: boolean;
  /** controllers mounted as cgroup v1 hierarchies */
  v1Controllers: string[];
}

export interface Info {
  host: {
    arch: string;
    cgroupControllers: string[];
    cgroupManager: 'cgroupfs';
    cgroupVersion: 'v1' | 'v2';
    cgroups: CgroupInfo;
    distribution: { distribution: string; version: string; codename: string };
    hostname: string;
    idMappings: { gidmap: IdMap[]; uidmap: IdMap[] };
    kernel: string;
    os: string;
    overlay: { native: boolean; fuseOverlayfs: string; /** what new containers' roots are mounted with ('' none can be) */ mode: 'native' | 'fuse' | '' };
    pasta?: ProgramInfo;
    rootlessNetworkCmd: Backend | '';
    runtimeDir: { path: string; fallback: boolean };
    security: {
      apparmorEnabled: boolean;
      rootless: boolean;
      seccompEnabled: boolean;
      seccompProfilePath: string;
      selinuxEnabled: boolean;
    };
    slirp4netns?: ProgramInfo;
    userns: { allowed: boolean; reason: string; newuidmap: string; newgidmap: string };
  };
  store: {
    containerStore: { number: number };
    graphDriverName: 'overlay';
    graphRoot: string;
    imageStore: { number: number };
    runRoot: string;
    volumePath: string;
  };
  version: { Version: string; HelperVersion: string; NodeVersion: string; Os: string; OsArch: string };
  /** one line per missing piece: what is missing, and the fix */
  hints: string[];
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Node's process.arch as Go (and so podman) names it. */
export function goArch(arch: string = process.arch): string {
  const names: Record<string, string> = { x64: 'amd64', ia32: '386', ppc64: 'ppc64le' };
  return names[arch] ?? arch;
}

/** /etc/os-release's ID, VERSION_ID and VERSION_CODENAME. */
export function parseOsRelease(text: string | undefined): { distribution: string; version: string; codename: string } {
  const values: Record<string, string> = {};
  for (const line of (text ?? '').split('\n')) {
    const m = line.match(/^([A-Z_]+)=(.*)$/);
    if (m) values[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return { distribution: values.ID ?? 'unknown', version: values.VERSION_ID ?? '', codename: values.VERSION_CODENAME ?? '' };
}

const V1_CONTROLLERS = new Set([
  'blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory', 'misc', 'net_cls', 'net_prio', 'perf_event', 'pids', 'rdma',
]);

/**
 * The cgroup layout from /proc/self/mountinfo and /proc/self/cgroup:
 * unified (only cgroup2, on /sys/fs/cgroup), hybrid (v1 hierarchies plus a
 * cgroup2 mount beside them), legacy (v1 only). `readFile` reads the v2
 * cgroup's control files; `writable` tells whether a directory is ours.
 */
export function parseCgroups(
  mountinfo: string,
  procCgroup: string,
  readFile: (path: string) => string | undefined,
  writable: (path: string) => boolean,
): CgroupInfo {
  let v2Mount = '';
  let v2Root = '/';
  const v1 = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const fields = before.split(' ');
    const [fstype, , options] = after.split(' ');
    if (fstype === 'cgroup2' && (!v2Mount || fields[4] === '/sys/fs/cgroup')) {
      v2Mount = fields[4]!;
      v2Root = fields[3]!;
    } else if (fstype === 'cgroup') {
      // the super options name the controllers, among others (rw, xattr, name=systemd...)
      for (const option of (options ?? '').split(',')) if (V1_CONTROLLERS.has(option)) v1.add(option);
    }
  }
  const v1Controllers = [...v1].sort();
  const mode: CgroupMode = v2Mount ? (v1Controllers.length ? 'hybrid' : 'unified') : v1Controllers.length ? 'legacy' : 'none';
  const info: CgroupInfo = { mode, v2Mount, v2Path: '', v2Controllers: [], v2SubtreeControl: [], delegated: false, v1Controllers };
  const own = procCgroup.split('\n').find((l) => l.startsWith('0::'));
  if (!v2Mount || own === undefined) return info;
  let path = own.slice(3).trim();
  // a cgroup namespace or a bind mount shows the hierarchy from below its root
  if (v2Root !== '/' && path.startsWith(v2Root)) path = path.slice(v2Root.length) || '/';
  info.v2Path = path;
  const dir = join(v2Mount, path);
  const words = (text: string | undefined) => (text ?? '').split(/\s+/).filter(Boolean).sort();
  info.v2Controllers = words(readFile(join(dir, 'cgroup.controllers')));
  info.v2SubtreeControl = words(readFile(join(dir, 'cgroup.subtree_control')));
  info.delegated = writable(dir);
  return info;
}

export { kernelVersion, nativeOverlayInUserns } from '../runtime/overlay.js';

/** Why the kernel refuses unprivileged user namespaces, and the fix; undefined when its switches allow them. */
export function usernsSwitches(values: { unprivilegedClone?: string; maxUserNamespaces?: string; apparmorRestrict?: string }): string | undefined {
  if (values.unprivilegedClone?.trim() === '0') {
    return 'kernel.unprivileged_userns_clone is 0: run sysctl -w kernel.unprivileged_userns_clone=1, and set it in /etc/sysctl.d/';
  }
  if (values.maxUserNamespaces?.trim() === '0') {
    return 'user.max_user_namespaces is 0: run sysctl -w user.max_user_namespaces=15000, and set it in /etc/sysctl.d/';
  }
  if (values.apparmorRestrict?.trim() === '1') {
    return 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): add an AppArmor profile allowing userns for tsbox-helper, or run sysctl -w kernel.apparmor_restrict_unprivileged_userns=0';
  }
  return undefined;
}

/** usernsSwitches() of this host's (or this user namespace's) sysctls. */
export function hostUsernsSwitches(): string | undefined {
  return usernsSwitches({
    unprivilegedClone: read('/proc/sys/kernel/unprivileged_userns_clone'),
    maxUserNamespaces: read('/proc/sys/user/max_user_namespaces'),
    apparmorRestrict: read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
  });
}

function idMaps(ranges: IdRange[]): IdMap[] {
  return ranges.map((r) => ({ container_id: r.inside, host_id: r.outside, size: r.count }));
}

/** Runs `program args` and resolves its first line of output ('' on any failure), bounded in time. */
function firstLine(program: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: 3000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const text = stdout || (err ? '' : stderr);
      resolve(text.split('\n')[0]!.trim());
    });
  });
}

/** The helper makes a user namespace mapping only our own ids: what the kernel allows without setuid tools. */
function probeUserns(helper: string): Promise<string | undefined> {
  const uid = String(process.getuid?.() ?? 0);
  const gid = String(process.getgid?.() ?? 0);
  return new Promise((resolve) => {
    execFile(helper, ['userns', '--uid-map', '0', uid, '1', '--gid-map', '0', gid, '1', '--', '/bin/true'], { timeout: 5000, encoding: 'utf8' }, (err, _out, stderr) =>
      resolve(err ? stderr.trim().split('\n').pop() || err.message : undefined),
    );
  });
}

async function countImages(): Promise<number> {
  // read-only: no mapping given, so a changed /etc/subuid does not make info fail
  const { openStore } = await import('../store/index.js');
  const store = await openStore();
  return (await store.listImages()).length;
}

async function countContainers(): Promise<number> {
  const { ContainerStore } = await import('../runtime/containers.js');
  return (await new ContainerStore().list()).length;
}

function packageVersion(): string {
  const text = read(join(findPackageRoot(), 'package.json'));
  try {
    return (JSON.parse(text ?? '{}') as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function ownedByUs(path: string): boolean {
  try {
    return statSync(path).uid === (process.getuid?.() ?? 0);
  } catch {
    return false;
  }
}

/** Everything `tsbox info` prints. */
export async function hostInfo(): Promise<Info> {
  const hints: string[] = [];
  const user = (() => {
    try {
      return userInfo().username;
    } catch {
      return String(process.getuid?.() ?? 0);
    }
  })();
  const kernel = release();
  const helper = helperPath();

  // the slow parts (child processes, the stores) run at once
  const backends = availableBackends();
  const backendVersions = Promise.all(backends.map((b) => firstLine(b.path, ['--version'])));
  const helperVersion = firstLine(helper, ['--version']);
  const usernsProbe = probeUserns(helper);
  const images = countImages().catch((err: Error) => {
    hints.push(`the image store cannot be read: ${err.message}`);
    return 0;
  });
  const containers = countContainers().catch(() => 0);

  // cgroups
  const cgroups = parseCgroups(read('/proc/self/mountinfo') ?? '', read('/proc/self/cgroup') ?? '', read, ownedByUs);
  const limits = 'resource limits (--memory, --cpus, --pids-limit) cannot be applied rootless';
  if (cgroups.mode === 'hybrid' || cgroups.mode === 'legacy') {
    const v2 = cgroups.mode === 'hybrid' ? ` (cgroup v2 has only ${cgroups.v2Controllers.join(', ') || 'no controllers'})` : '';
    hints.push(
      `cgroup v1${cgroups.v1Controllers.length ? ` holds ${cgroups.v1Controllers.join(', ')}` : ''}${v2}: ${limits}; boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2`,
    );
  } else if (cgroups.mode === 'unified' && !cgroups.delegated) {
    hints.push(`no cgroup v2 controllers are delegated to ${user}: ${limits}; log in through systemd (user@.service delegates them)`);
  }

  // id mappings
  const mapping = currentMapping();
  const tools = findMappingTools();
  const newuidmap = 'missing' in tools ? '' : tools.newuidmap;
  const newgidmap = 'missing' in tools ? '' : tools.newgidmap;
  if ('missing' in tools) {
    hints.push(`${tools.missing} not found: only your own uid can be mapped; apt-get install uidmap (dnf install shadow-utils)`);
  }
  const who = { name: user, uid: process.getuid?.() ?? 0 };
  for (const [file, kind, flag] of [
    ['/etc/subuid', 'uid', '--add-subuids'],
    ['/etc/subgid', 'gid', '--add-subgids'],
  ] as const) {
    if (parseSubordinateIds(read(file) ?? '', who).length === 0) {
      hints.push(`no subordinate ${kind} range for ${user} in ${file}: add the line ${user}:100000:65536 (usermod ${flag} 100000-165535 ${user})`);
    }
  }

  // user namespaces: the kernel's switches first (their fix is precise), else what the probe says
  const switches = hostUsernsSwitches();
  const probeError = await usernsProbe;
  const usernsReason = switches ?? (probeError ? `a user namespace cannot be made: ${probeError}` : '');
  if (usernsReason) hints.push(usernsReason);

  // overlay
  const nativeOverlay = nativeOverlayInUserns(kernel, read('/sys/module/overlay/parameters/permit_mounts_in_userns'));
  const host = overlayHost();
  const fuseOverlayfs = host.fuseOverlayfs ?? '';
  // what a new container's root is mounted with
  let overlayMode: Info['host']['overlay']['mode'] = '';
  try {
    const plan = planOverlay(process.env.TSBOX_OVERLAY, { ...host, kernel, nativeInUserns: nativeOverlay });
    overlayMode = plan.mode === 'fuse' ? 'fuse' : 'native';
  } catch (err) {
    const e = err as TsboxError;
    hints.push(e.hint ? `${e.message}: ${e.hint}` : e.message);
  }

  // network
  let rootlessNetworkCmd: Backend | '' = '';
  try {
    rootlessNetworkCmd = defaultBackend().backend;
  } catch {
    hints.push('no rootless network backend (pasta or slirp4netns) on $PATH: apt-get install passt (or slirp4netns), or use --network none');
  }
  const versions = await backendVersions;
  const programs: Partial<Record<Backend, ProgramInfo>> = {};
  backends.forEach((b, i) => {
    programs[b.backend] = { executable: b.path, package: '', version: versions[i]! };
  });

  // seccomp: the kernel has filters when it lists their actions
  const seccompEnabled = read('/proc/sys/kernel/seccomp/actions_avail') !== undefined && /^Seccomp:/m.test(read('/proc/self/status') ?? '');
  if (!seccompEnabled) hints.push('the kernel has no seccomp filters (CONFIG_SECCOMP_FILTER): containers run without a seccomp profile');

  // runtime dir
  const runDir = runtimeDir();
  const fallback = runDir !== process.env.XDG_RUNTIME_DIR;
  if (fallback) {
    const why = process.env.XDG_RUNTIME_DIR ? `XDG_RUNTIME_DIR (${process.env.XDG_RUNTIME_DIR}) is not yours` : 'XDG_RUNTIME_DIR is not set';
    hints.push(`${why}: using ${runDir}; log in with a full session, or run loginctl enable-linger ${user} so that /run/user/${process.getuid?.() ?? 0} exists`);
  }

  const helperLine = await helperVersion;
  if (!helperLine) hints.push(`tsbox-helper cannot be run from ${helper}: build it with npm run build (make -C native-helper)`);

  const root = storeRoot();
  return {
    host: {
      arch: goArch(),
      cgroupControllers: cgroups.delegated ? cgroups.v2Controllers : [],
      cgroupManager: 'cgroupfs',
      cgroupVersion: cgroups.mode === 'unified' ? 'v2' : 'v1',
      cgroups,
      distribution: parseOsRelease(read('/etc/os-release') ?? read('/usr/lib/os-release')),
      hostname: hostname(),
      idMappings: { gidmap: idMaps(mapping.gids), uidmap: idMaps(mapping.uids) },
      kernel,
      os: process.platform,
      overlay: { native: nativeOverlay, fuseOverlayfs, mode: overlayMode },
      ...(programs.pasta ? { pasta: programs.pasta } : {}),
      rootlessNetworkCmd,
      runtimeDir: { path: runDir, fallback },
      security: {
        apparmorEnabled: read('/sys/module/apparmor/parameters/enabled')?.trim() === 'Y',
        rootless: (process.getuid?.() ?? 0) !== 0,
        seccompEnabled,
        seccompProfilePath: '',
        selinuxEnabled: read('/sys/fs/selinux/enforce') !== undefined,
      },
      ...(programs.slirp4netns ? { slirp4netns: programs.slirp4netns } : {}),
      userns: { allowed: !usernsReason, reason: usernsReason, newuidmap, newgidmap },
    },
    store: {
      containerStore: { number: await containers },
      graphDriverName: 'overlay',
      graphRoot: root,
      imageStore: { number: await images },
      runRoot: join(runDir, 'tsbox'),
      volumePath: join(root, 'volumes'),
    },
    version: {
      Version: packageVersion(),
      HelperVersion: helperLine.replace(/^tsbox-helper version /, ''),
      NodeVersion: process.version,
      Os: process.platform,
      OsArch: `${process.platform}/${goArch()}`,
    },
    hints,
  };
}

// Go's field names in podman's structs, where they are not the JSON name capitalized.
const GO_NAMES: Record<string, string> = {
  os: 'OS',
  cgroupVersion: 'CgroupsVersion',
  idMappings: 'IDMappings',
  gidmap: 'GIDMap',
  uidmap: 'UIDMap',
  container_id: 'ContainerID',
  host_id: 'HostID',
  seccompEnabled: 'SECCOMPEnabled',
  seccompProfilePath: 'SECCOMPProfilePath',
  apparmorEnabled: 'AppArmorEnabled',
  selinuxEnabled: 'SELinuxEnabled',
  slirp4netns: 'Slirp4NetNS',
};

/**
 * The info as Go templates see it: podman's Go field names ({{.Host.OS}},
 * {{.Store.GraphRoot}}); the JSON name capitalized ({{.Host.Os}}) also works
 * where it differs, as a hidden alias that `{{json .}}` does not print.
 */
export function templateView(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(templateView);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const capitalized = key.charAt(0).toUpperCase() + key.slice(1);
    const name = GO_NAMES[key] ?? capitalized;
    out[name] = templateView(v);
    if (name !== capitalized) Object.defineProperty(out, capitalized, { value: out[name], enumerable: false });
  }
  return out;
}
