// podman's mount flags (-v/--volume, --mount, --tmpfs) turned into a list of
// mount entries for `run`. Parsing is pure (relative host paths resolve
// against the cwd given); whether a host path exists is checked apart, by
// checkBindSources, so that the parser can be tested as a table.
// Wording follows podman (pkg/specgen/volumes.go, pkg/specgenutil/volumes.go,
// containers/common pkg/parse) so that scripts see the same errors.
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { TsboxError } from '../errors.js';
import { checkVolumeName } from './names.js';

export type MountType = 'bind' | 'volume' | 'tmpfs';

export interface MountEntry {
  type: MountType;
  /** bind: an absolute host path; volume: the volume's name, absent for an anonymous volume; tmpfs: absent. */
  source?: string;
  /** Absolute and clean (`/a/b`, never `/a/b/` or `/a/./b`). */
  destination: string;
  readOnly: boolean;
  /**
   * Everything else, as mount(8) spells it: propagation (`rprivate`, ...),
   * `nosuid`/`suid`, `nodev`/`dev`, `noexec`/`exec`, `bind`/`rbind`,
   * `copy`/`nocopy` (volumes), `size=`, `mode=`, `tmpcopyup`... (tmpfs).
   * `ro`/`rw` are in readOnly, never here; SELinux `z`/`Z` are dropped.
   */
  options: string[];
}

export interface ParseOptions {
  /** Directory that `.`-relative host paths resolve against; default process.cwd(). */
  cwd?: string;
}

export class MountFlagError extends TsboxError {}

const OPTION_ARG = 'must provide an argument for option';
const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']);

function notSupported(what: string): MountFlagError {
  return new MountFlagError(`${what} is not supported by tsbox yet`);
}

/** podman's ValidateVolumeCtrDir, then path.Clean. */
function cleanDestination(dest: string): string {
  if (dest === '') throw new MountFlagError('container directory cannot be empty');
  if (!dest.startsWith('/')) throw new MountFlagError(`invalid container path ${JSON.stringify(dest)}, must be an absolute path`);
  const clean = posix.normalize(dest);
  return clean.length > 1 ? clean.replace(/\/+$/, '') : clean;
}

function resolveHostPath(source: string, options: ParseOptions): string {
  return posix.resolve(options.cwd ?? process.cwd(), source);
}

/**
 * podman's ValidateVolumeOpts: at most one of each kind. Returns the options
 * to keep (ro/rw, z/Z, cached/delegated dropped) and whether `ro` was given.
 */
function checkVolumeOptions(list: string[]): { readOnly: boolean; options: string[] } {
  const seen = new Map<string, number>();
  const once = (kind: string, label: string) => {
    const n = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, n);
    if (n > 1) throw new MountFlagError(`invalid options ${JSON.stringify(list.join(', '))}, can only specify 1 ${label} option`);
  };
  let readOnly = false;
  const options: string[] = [];
  for (const opt of list) {
    if (opt.startsWith('idmap')) throw notSupported(`the volume option ${JSON.stringify(opt)} (id-mapped mounts)`);
    if (opt.includes('upperdir') || opt.includes('workdir')) throw notSupported(`the volume option ${JSON.stringify(opt)} (overlay volumes)`);
    switch (opt) {
      case 'noexec':
      case 'exec':
        once('exec', "'noexec' or 'exec'");
        options.push(opt);
        break;
      case 'nodev':
      case 'dev':
        once('dev', "'nodev' or 'dev'");
        options.push(opt);
        break;
      case 'nosuid':
      case 'suid':
        once('suid', "'nosuid' or 'suid'");
        options.push(opt);
        break;
      case 'rw':
      case 'ro':
        once('rwro', "'rw' or 'ro'");
        readOnly = opt === 'ro';
        break;
      case 'z':
      case 'Z':
        // SELinux relabelling: tsbox does not label, so there is nothing to do.
        once('label', "'z', 'Z', or 'O'");
        break;
      case 'O':
        once('label', "'z', 'Z', or 'O'");
        throw notSupported("the volume option 'O' (an overlay over the host directory)");
      case 'U':
        once('chown', "'U'");
        throw notSupported("the volume option 'U' (chown the source to the container's user)");
      case 'bind':
      case 'rbind':
        once('bind', "'[r]bind'");
        options.push(opt);
        break;
      case 'copy':
      case 'nocopy':
        once('copy', "'copy' or 'nocopy'");
        options.push(opt);
        break;
      case 'cached':
      case 'delegated':
        // macOS-only hints that docker and podman drop on Linux.
        break;
      case 'no-dereference':
        throw notSupported("the volume option 'no-dereference'");
      default:
        if (PROPAGATIONS.has(opt)) {
          once('propagation', "'[r]shared', '[r]private', '[r]slave' or '[r]unbindable'");
          options.push(opt);
          break;
        }
        throw new MountFlagError(`invalid option type ${JSON.stringify(opt)}`);
    }
  }
  return { readOnly, options };
}

/**
 * One `-v`/`--volume` value: `HOST-DIR:CTR-DIR[:OPTIONS]` (a bind mount when
 * the source starts with `/` or `.`), `NAME:CTR-DIR[:OPTIONS]` (a named
 * volume) or `CTR-DIR` (an anonymous volume).
 */
export function parseVolumeFlag(value: string, parseOptions: ParseOptions = {}): MountEntry {
  const parts = value.split(':');
  if (parts.length > 3) throw new MountFlagError(`${value}: incorrect volume format, should be [host-dir:]ctr-dir[:option]`);
  const anonymous = parts.length === 1;
  const source = anonymous ? '' : parts[0]!;
  const destination = anonymous ? parts[0]! : parts[1]!;
  const { readOnly, options } = checkVolumeOptions(parts.length > 2 ? parts[2]!.split(',') : []);
  if (!anonymous && source === '') throw new MountFlagError('host directory cannot be empty');
  const dest = cleanDestination(destination);
  if (anonymous) return { type: 'volume', destination: dest, readOnly, options };
  if (source.startsWith('/') || source.startsWith('.')) {
    return { type: 'bind', source: resolveHostPath(source, parseOptions), destination: dest, readOnly, options };
  }
  // Anything else names a volume: `data:/x`, but also `src/dir:/x`, which is
  // refused here as podman refuses it (a relative host path must start with `.`).
  checkVolumeName(source);
  return { type: 'volume', source, destination: dest, readOnly, options };
}

/** Splits one CSV record as Go's encoding/csv does (podman reads --mount with it): quotes allow commas. */
function splitCsv(value: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') {
      if (field !== '') throw new MountFlagError(`${value}: bare " in non-quoted field`);
      quoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      throw new MountFlagError(MOUNT_FORMAT);
    } else {
      field += c;
    }
    i++;
  }
  if (quoted) throw new MountFlagError(`${value}: extraneous or missing " in quoted field`);
  fields.push(field);
  return fields;
}

const MOUNT_FORMAT =
  'incorrect mount format: should be --mount type=<bind|glob|tmpfs|volume>,[src=<host-dir|volume-name>,]target=<ctr-dir>[,options]';

function parseBool(name: string, value: string): boolean {
  switch (value.toLowerCase()) {
    case 'true':
      return true;
    case 'false':
      return false;
    default:
      throw new MountFlagError(`invalid value ${JSON.stringify(`${name}=${value}`)}: must be true or false`);
  }
}

/**
 * One `--mount` value: `type=bind,source=/h,target=/c[,readonly][,bind-propagation=rslave]`,
 * `type=volume[,source=NAME],target=/c`, `type=tmpfs,target=/c[,tmpfs-size=64m][,tmpfs-mode=1777]`.
 * Without `type=`, a volume (podman 5, docker).
 */
export function parseMountFlag(value: string, parseOptions: ParseOptions = {}): MountEntry {
  let type: string | undefined;
  const tokens: string[] = [];
  for (const field of splitCsv(value)) {
    const kv = field.split('=');
    if (type === undefined && kv.length === 2 && kv[0] === 'type') type = kv[1]!;
    else tokens.push(field);
  }
  type ??= 'volume';
  if (type === 'glob' || type === 'image' || type === 'devpts' || type === 'ramfs' || type === 'artifact') {
    throw notSupported(`the mount type ${JSON.stringify(type)}`);
  }
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw new MountFlagError(`invalid filesystem type ${JSON.stringify(type)}`);
  const mountType: MountType = type;

  const onlyFor = (name: string, ...types: MountType[]) => {
    if (!types.includes(mountType)) throw new MountFlagError(`${JSON.stringify(name)} option not supported for ${JSON.stringify(mountType)} mount types`);
  };
  const seen = new Set<string>();
  const once = (kind: string, message: string) => {
    if (seen.has(kind)) throw new MountFlagError(`${message}: ${OPTION_ARG}`);
    seen.add(kind);
  };
  let source: string | undefined;
  let destination: string | undefined;
  let readOnly = false;
  const options: string[] = [];

  for (const token of tokens) {
    const eq = token.indexOf('=');
    const name = eq < 0 ? token : token.slice(0, eq);
    const arg = eq < 0 ? undefined : token.slice(eq + 1);
    const required = (): string => {
      if (arg === undefined) throw new MountFlagError(`${name}: ${OPTION_ARG}`);
      return arg;
    };
    switch (name) {
      case 'src':
      case 'source':
        onlyFor(name, 'bind', 'volume');
        if (source !== undefined) throw new MountFlagError(`cannot pass ${JSON.stringify(name)} option more than once: ${OPTION_ARG}`);
        if (required() === '') throw new MountFlagError(`host directory cannot be empty: ${OPTION_ARG}`);
        source = arg!;
        break;
      case 'target':
      case 'dst':
      case 'dest':
      case 'destination':
        if (destination !== undefined) throw new MountFlagError(`cannot pass ${JSON.stringify(name)} option more than once: ${OPTION_ARG}`);
        destination = cleanDestination(required());
        break;
      case 'readonly':
      case 'ro':
      case 'rw': {
        once('rorw', "cannot pass 'readonly', 'ro', or 'rw' mnt.Options more than once");
        const on = arg === undefined ? true : parseBool(name, arg);
        readOnly = name === 'rw' ? !on : on;
        break;
      }
      case 'bind-propagation':
        onlyFor(name, 'bind');
        if (!PROPAGATIONS.has(required())) throw new MountFlagError(`invalid value ${JSON.stringify(token)}`);
        options.push(arg!);
        break;
      case 'bind-nonrecursive':
        onlyFor(name, 'bind');
        options.push('bind');
        break;
      case 'nodev':
      case 'dev':
        once('dev', "cannot pass 'nodev' and 'dev' mnt.Options more than once");
        options.push(name);
        break;
      case 'noexec':
      case 'exec':
        once('exec', "cannot pass 'noexec' and 'exec' mnt.Options more than once");
        options.push(name);
        break;
      case 'nosuid':
      case 'suid':
        once('suid', "cannot pass 'nosuid' and 'suid' mnt.Options more than once");
        options.push(name);
        break;
      case 'tmpfs-size':
        onlyFor(name, 'tmpfs');
        options.push(`size=${required()}`);
        break;
      case 'tmpfs-mode':
        onlyFor(name, 'tmpfs');
        options.push(`mode=${required()}`);
        break;
      case 'tmpcopyup':
      case 'notmpcopyup':
        onlyFor(name, 'tmpfs');
        once('tmpcopyup', "cannot pass 'tmpcopyup' and 'notmpcopyup' mnt.Options more than once");
        options.push(name);
        break;
      case 'relabel':
        // SELinux relabelling: checked as podman does, then nothing to do.
        if (arg !== 'private' && arg !== 'shared') throw new MountFlagError(`relabel mount option must be 'private' or 'shared': invalid mount option`);
        break;
      case 'z':
      case 'Z':
      case 'consistency':
        break;
      case 'U':
      case 'chown':
        if (arg === undefined || arg === '' || parseBool(name, arg)) throw notSupported(`the mount option ${JSON.stringify(name)} (chown the source to the container's user)`);
        break;
      case 'idmap':
        throw notSupported('the mount option "idmap" (id-mapped mounts)');
      case 'subpath':
      case 'volume-subpath':
        if (mountType !== 'volume') throw new MountFlagError(`cannot set option ${JSON.stringify(name)} on non-volume mounts`);
        throw notSupported(`the mount option ${JSON.stringify(name)}`);
      case 'volume-label':
        onlyFor(name, 'volume');
        throw new MountFlagError('the --volume-label option is not presently implemented');
      case 'volume-opt':
        onlyFor(name, 'volume');
        throw notSupported('the mount option "volume-opt"');
      default:
        if (PROPAGATIONS.has(name)) {
          options.push(name);
          break;
        }
        throw new MountFlagError(`${name}: invalid mount option`);
    }
  }
  if (destination === undefined) throw new MountFlagError('must set volume destination');

  if (mountType === 'tmpfs') return { type: 'tmpfs', destination, readOnly, options };
  if (mountType === 'bind') {
    // Propagation and the like may each come once, as with -v.
    checkVolumeOptions(options);
    return { type: 'bind', source: resolveHostPath(source ?? destination, parseOptions), destination, readOnly, options };
  }
  if (source === undefined) return { type: 'volume', destination, readOnly, options };
  checkVolumeName(source);
  return { type: 'volume', source, destination, readOnly, options };
}

const TMPFS_FLAGS = new Set(['noexec', 'exec', 'nosuid', 'suid', 'nodev', 'dev', 'tmpcopyup', 'notmpcopyup', 'noatime', 'atime', 'relatime', 'strictatime', 'nodiratime', 'diratime']);
const TMPFS_VALUES = new Set(['size', 'mode', 'nr_inodes', 'nr_blocks', 'uid', 'gid', 'huge', 'mpol']);

/** One `--tmpfs` value: `CTR-DIR[:OPTIONS]`, OPTIONS as mount(8) takes them for tmpfs (`size=64m,mode=1777,noexec`). */
export function parseTmpfsFlag(value: string): MountEntry {
  const colon = value.indexOf(':');
  const destination = cleanDestination(colon < 0 ? value : value.slice(0, colon));
  const list = colon < 0 || value.slice(colon + 1) === '' ? [] : value.slice(colon + 1).split(',');
  let readOnly = false;
  const options: string[] = [];
  for (const opt of list) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    if (opt === 'ro' || opt === 'rw') readOnly = opt === 'ro';
    else if (eq < 0 && TMPFS_FLAGS.has(opt)) options.push(opt);
    else if (eq > 0 && TMPFS_VALUES.has(key) && opt.length > eq + 1) options.push(opt);
    else throw new MountFlagError(`invalid tmpfs option ${JSON.stringify(opt)} for ${destination}`);
  }
  return { type: 'tmpfs', destination, readOnly, options };
}

export interface MountFlags {
  volume?: string[];
  mount?: string[];
  tmpfs?: string[];
}

function sameEntry(a: MountEntry, b: MountEntry): boolean {
  return (
    a.type === b.type &&
    a.source === b.source &&
    a.readOnly === b.readOnly &&
    a.options.length === b.options.length &&
    a.options.every((o, i) => o === b.options[i])
  );
}

/**
 * Parses every mount flag of one `run` and checks them together: a
 * destination may be named twice only with the same mount (podman
 * collapses those), never by two different ones. The result is ordered as
 * podman orders mounts, parents before the mounts nested in them.
 */
export function parseMountFlags(flags: MountFlags, parseOptions: ParseOptions = {}): MountEntry[] {
  const parsed = [
    ...(flags.mount ?? []).map((m) => parseMountFlag(m, parseOptions)),
    ...(flags.volume ?? []).map((v) => parseVolumeFlag(v, parseOptions)),
    ...(flags.tmpfs ?? []).map(parseTmpfsFlag),
  ];
  const byDestination = new Map<string, MountEntry>();
  for (const entry of parsed) {
    const earlier = byDestination.get(entry.destination);
    if (earlier === undefined) byDestination.set(entry.destination, entry);
    else if (!sameEntry(earlier, entry)) throw new MountFlagError(`${entry.destination}: duplicate mount destination`);
  }
  const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);
  // A stable sort: equal depths keep the order given.
  return [...byDestination.values()].sort((a, b) => depth(a.destination) - depth(b.destination));
}

/**
 * The check podman makes when it creates the container: every bind source
 * must exist. Separate from parsing so that the parsers stay pure.
 */
export function checkBindSources(entries: MountEntry[]): void {
  for (const entry of entries) {
    if (entry.type !== 'bind') continue;
    try {
      statSync(entry.source!);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new MountFlagError(`statfs ${entry.source}: ${why}`, { cause: err });
    }
  }
}
