// containers-registries.conf(5), version 2: where short names are looked up,
// which registries are blocked or insecure, and which mirrors to try first.
// Matching and rewriting follow containers/image's sysregistriesv2.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { TsboxError, describeSystemError } from '../errors.js';
import { configHome } from '../paths.js';
import {
  BadReferenceError,
  DEFAULT_REGISTRY,
  DEFAULT_TAG,
  checkRepository,
  isShortName,
  isValidRegistry,
  parseReference,
  referenceName,
  splitReference,
  type Reference,
} from '../reference/parse.js';

export const SYSTEM_REGISTRIES_CONF = '/etc/containers/registries.conf';

export interface Endpoint {
  /** host[:port][/path]; empty only for the primary of a wildcard prefix (meaning: the host itself). */
  location: string;
  insecure: boolean;
}

export interface Mirror extends Endpoint {
  /** registries.conf's pull-from-mirror: which references may use this mirror. */
  pullFromMirror: 'all' | 'digest-only' | 'tag-only';
}

export interface RegistryEntry extends Endpoint {
  /** What it matches: 'host[:port][/path]' or '*.example.com'. */
  prefix: string;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: Mirror[];
  /** The file that defined it, for error messages. */
  origin: string;
}

export interface RegistriesConf {
  /** The main file that was read, or would have been (it may be missing). */
  path: string;
  /** host[:port] entries, in order; empty means docker.io alone. */
  unqualifiedSearchRegistries: string[];
  registries: RegistryEntry[];
  /** short name -> fully-qualified name without tag or digest. */
  aliases: Record<string, string>;
}

/** One place to try a pull: the registry to contact and the repository there. */
export interface PullSource {
  /** host[:port] to contact; 'docker.io' stays 'docker.io' (the registry client knows its real host). */
  registry: string;
  repository: string;
  insecure: boolean;
  mirror: boolean;
}

export class RegistriesConfError extends TsboxError {}

export class RegistryBlockedError extends TsboxError {}

/** The file podman would read: $CONTAINERS_REGISTRIES_CONF, the user's, else the system's. */
export function registriesConfPath(): { path: string; explicit: boolean } {
  const fromEnv = process.env.CONTAINERS_REGISTRIES_CONF;
  if (fromEnv) return { path: fromEnv, explicit: true };
  const user = join(configHome(), 'containers', 'registries.conf');
  if (readIfExists(user) !== undefined) return { path: user, explicit: false };
  return { path: SYSTEM_REGISTRIES_CONF, explicit: false };
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new RegistriesConfError(`reading ${path}: ${describeSystemError(err)}`, { cause: err });
  }
}

/**
 * Reads the registries configuration and the drop-in files in
 * `registries.conf.d/` beside it (`*.conf`, in name order, each overriding
 * what came before). A missing file means the defaults, except a file named
 * by $CONTAINERS_REGISTRIES_CONF, which must exist (podman agrees: a typo
 * there should not silently mean "no configuration").
 */
export function loadRegistriesConf(): RegistriesConf {
  const { path, explicit } = registriesConfPath();
  const conf: RegistriesConf = { path, unqualifiedSearchRegistries: [], registries: [], aliases: {} };
  const text = readIfExists(path);
  if (text === undefined && explicit) {
    throw new RegistriesConfError(`reading ${path}: no such file`, {
      hint: 'CONTAINERS_REGISTRIES_CONF names a file that does not exist',
    });
  }
  if (text !== undefined) merge(conf, parseRegistriesConf(text, path));

  const dropInDir = join(dirname(path), 'registries.conf.d');
  let dropIns: string[] = [];
  try {
    dropIns = readdirSync(dropInDir).filter((name) => name.endsWith('.conf')).sort();
  } catch {
    // no drop-in directory: nothing to add
  }
  for (const name of dropIns) {
    const file = join(dropInDir, name);
    const dropIn = readIfExists(file);
    if (dropIn !== undefined) merge(conf, parseRegistriesConf(dropIn, file));
  }
  checkConflicts(conf);
  return conf;
}

/** What one file sets; a field left out (undefined) leaves the earlier value in place. */
interface ParsedFile {
  unqualifiedSearchRegistries?: string[];
  registries: RegistryEntry[];
  aliases: Record<string, string>;
}

function merge(into: RegistriesConf, file: ParsedFile): void {
  if (file.unqualifiedSearchRegistries !== undefined) into.unqualifiedSearchRegistries = file.unqualifiedSearchRegistries;
  for (const entry of file.registries) {
    // a later file redefines a prefix wholesale rather than mixing fields
    const same = into.registries.findIndex((r) => r.prefix === entry.prefix);
    if (same === -1) into.registries.push(entry);
    else into.registries[same] = entry;
  }
  for (const [name, target] of Object.entries(file.aliases)) {
    // an empty value in a drop-in removes an alias set earlier
    if (target === '') delete into.aliases[name];
    else into.aliases[name] = target;
  }
}

/** Parses one file's text; every error names the file. Exported for tests and `tsbox info`. */
export function parseRegistriesConf(text: string, file: string): ParsedFile {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new RegistriesConfError(`parsing ${file}: line ${err.line}: ${reason}`, {
        hint: 'fix the TOML syntax, see containers-registries.conf(5)',
        cause: err,
      });
    }
    throw err;
  }
  const bad = (what: string): RegistriesConfError => new RegistriesConfError(`invalid ${file}: ${what}`);

  const v1 = doc.registries;
  const v2Set = doc.registry !== undefined || doc['unqualified-search-registries'] !== undefined;
  if (v1 !== undefined) {
    if (v2Set) throw bad('mixing sysregistry v1/v2 is not supported');
    return parseV1(v1, file, bad);
  }

  const result: ParsedFile = { registries: [], aliases: {} };
  const search = doc['unqualified-search-registries'];
  if (search !== undefined) {
    result.unqualifiedSearchRegistries = stringArray(search, 'unqualified-search-registries', bad).map((entry) => {
      const host = trimLocation(entry, bad);
      if (!isValidRegistry(host)) throw bad(`invalid unqualified-search-registries entry "${entry}"`);
      return host;
    });
  }

  const registries = doc.registry;
  if (registries !== undefined) {
    if (!Array.isArray(registries)) throw bad('registry must be an array of tables ([[registry]])');
    for (const [i, raw] of registries.entries()) result.registries.push(parseRegistryEntry(raw, `registry #${i + 1}`, file, bad));
  }

  const aliases = doc.aliases;
  if (aliases !== undefined) {
    if (!isTable(aliases)) throw bad('aliases must be a table ([aliases])');
    for (const [name, target] of Object.entries(aliases)) {
      if (typeof target !== 'string') throw bad(`alias "${name}" must be a string`);
      checkAlias(name, target, bad);
      result.aliases[name] = target;
    }
  }
  return result;
}

function parseRegistryEntry(raw: unknown, where: string, file: string, bad: (what: string) => RegistriesConfError): RegistryEntry {
  if (!isTable(raw)) throw bad(`${where} must be a table`);
  let location = raw.location === undefined ? '' : trimLocation(stringField(raw, 'location', where, bad), bad);
  let prefix = raw.prefix === undefined ? '' : trimLocation(stringField(raw, 'prefix', where, bad), bad);
  if (prefix === '') {
    if (location === '') throw bad(`${where}: both location and prefix are unset`);
    prefix = location;
  }
  const wildcard = prefix.startsWith('*.');
  if (wildcard && /[/:@]/.test(prefix)) {
    throw bad(`wildcarded prefix should be in the format *.example.com; "${prefix}" is not`);
  }
  if (!wildcard && location === '') location = prefix;

  const mirrorByDigestOnly = boolField(raw, 'mirror-by-digest-only', where, bad);
  const mirrors: Mirror[] = [];
  if (raw.mirror !== undefined) {
    if (!Array.isArray(raw.mirror)) throw bad(`${where}: mirror must be an array of tables ([[registry.mirror]])`);
    for (const [j, m] of raw.mirror.entries()) {
      const mwhere = `${where}, mirror #${j + 1}`;
      if (!isTable(m)) throw bad(`${mwhere} must be a table`);
      const mlocation = m.location === undefined ? '' : trimLocation(stringField(m, 'location', mwhere, bad), bad);
      if (mlocation === '') throw bad(`${mwhere}: location is unset`);
      const pull = m['pull-from-mirror'] === undefined ? 'all' : stringField(m, 'pull-from-mirror', mwhere, bad);
      if (pull !== 'all' && pull !== 'digest-only' && pull !== 'tag-only') {
        throw bad(`${mwhere}: pull-from-mirror must be "all", "digest-only" or "tag-only", not "${pull}"`);
      }
      if (pull !== 'all' && mirrorByDigestOnly) {
        throw bad(`${mwhere}: pull-from-mirror cannot be used together with mirror-by-digest-only`);
      }
      mirrors.push({ location: mlocation, insecure: boolField(m, 'insecure', mwhere, bad), pullFromMirror: pull });
    }
  }
  return {
    prefix,
    location,
    insecure: boolField(raw, 'insecure', where, bad),
    blocked: boolField(raw, 'blocked', where, bad),
    mirrorByDigestOnly,
    mirrors,
    origin: file,
  };
}

/** v1's [registries.search/insecure/block] lists, turned into v2 entries as containers/image does. */
function parseV1(v1: unknown, file: string, bad: (what: string) => RegistriesConfError): ParsedFile {
  if (!isTable(v1)) throw bad('registries must be a table');
  const list = (key: string): string[] => {
    const section = v1[key];
    if (section === undefined) return [];
    if (!isTable(section)) throw bad(`registries.${key} must be a table`);
    return section.registries === undefined ? [] : stringArray(section.registries, `registries.${key}.registries`, bad);
  };
  const byLocation = new Map<string, RegistryEntry>();
  const entry = (raw: string): RegistryEntry => {
    const location = trimLocation(raw, bad);
    let found = byLocation.get(location);
    if (!found) {
      found = { prefix: location, location, insecure: false, blocked: false, mirrorByDigestOnly: false, mirrors: [], origin: file };
      byLocation.set(location, found);
    }
    return found;
  };
  for (const host of list('block')) entry(host).blocked = true;
  for (const host of list('insecure')) entry(host).insecure = true;
  const search = list('search').map((host) => trimLocation(host, bad));
  return { unqualifiedSearchRegistries: search.length > 0 ? search : undefined, registries: [...byLocation.values()], aliases: {} };
}

function checkAlias(name: string, target: string, bad: (what: string) => RegistriesConfError): void {
  const split = splitReference(name);
  if (!isShortName(name) || split.tag !== undefined || split.digest !== undefined) {
    throw bad(`alias "${name}" must be a short name without tag or digest`);
  }
  if (target === '') return;
  const targetSplit = splitReference(target);
  if (isShortName(target) || targetSplit.tag !== undefined || targetSplit.digest !== undefined) {
    throw bad(`alias "${name}" must point to a fully-qualified name without tag or digest, not "${target}"`);
  }
  try {
    parseReference(target);
  } catch (err) {
    throw bad(`alias "${name}": ${(err as Error).message}`);
  }
}

/** The same location twice must agree on insecure and blocked (containers/image refuses otherwise). */
function checkConflicts(conf: RegistriesConf): void {
  for (const a of conf.registries) {
    for (const b of conf.registries) {
      if (a === b || a.location === '' || a.location !== b.location) continue;
      for (const key of ['insecure', 'blocked'] as const) {
        if (a[key] !== b[key]) {
          throw new RegistriesConfError(`registry '${a.location}' is defined multiple times with conflicting '${key}' setting in ${a.origin}`);
        }
      }
    }
  }
}

function trimLocation(input: string, bad: (what: string) => RegistriesConfError): string {
  const trimmed = input.replace(/\/+$/, '');
  if (/^https?:\/\//.test(trimmed)) throw bad(`invalid location '${input}': URI schemes are not supported`);
  return trimmed;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function stringField(table: Record<string, unknown>, key: string, where: string, bad: (what: string) => RegistriesConfError): string {
  const value = table[key];
  if (typeof value !== 'string') throw bad(`${where}: ${key} must be a string`);
  return value;
}

function boolField(table: Record<string, unknown>, key: string, where: string, bad: (what: string) => RegistriesConfError): boolean {
  const value = table[key];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw bad(`${where}: ${key} must be true or false`);
  return value;
}

function stringArray(value: unknown, key: string, bad: (what: string) => RegistriesConfError): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw bad(`${key} must be an array of strings`);
  return value as string[];
}

/**
 * How much of `name` a prefix covers (the index its match ends at), or -1.
 * A plain prefix must end at a path, tag or digest boundary; '*.example.com'
 * matches any subdomain of example.com in the host part.
 */
function matchPrefix(name: string, prefix: string): number {
  if (prefix.startsWith('*.')) {
    const suffix = prefix.slice(1);
    const at = name.indexOf(suffix);
    if (at === -1 || name.slice(0, at).includes('/')) return -1;
    let end = at + suffix.length;
    // the match takes the host's port too, so that a mirror replaces the whole host
    if (name[end] === ':') end = name.includes('/', end) ? name.indexOf('/', end) : name.length;
    return end === name.length || '/@'.includes(name[end]!) ? end : -1;
  }
  if (!name.startsWith(prefix)) return -1;
  return name.length === prefix.length || ':/@'.includes(name[prefix.length]!) ? prefix.length : -1;
}

/** The entry with the longest matching prefix, as containers/image picks it. */
export function findRegistry(name: string, conf: RegistriesConf): RegistryEntry | undefined {
  let best: RegistryEntry | undefined;
  for (const entry of conf.registries) {
    if (matchPrefix(name, entry.prefix) !== -1 && (!best || entry.prefix.length > best.prefix.length)) best = entry;
  }
  return best;
}

/**
 * The fully-qualified candidates for what the user typed, in the order to try
 * them: the alias when there is one, else each unqualified-search registry
 * (docker.io alone when none is configured, as docker behaves). A name that
 * is already fully qualified is its own only candidate.
 */
export function resolveShortName(input: string, conf: RegistriesConf): Reference[] {
  const typed = parseReference(input); // refuses bad input before any lookup
  if (!isShortName(input)) return [typed];
  const { name, tag, digest } = splitReference(input);
  const alias = conf.aliases[name];
  if (alias !== undefined) {
    const target = parseReference(alias);
    const resolved: Reference = { registry: target.registry, repository: target.repository };
    if (tag !== undefined) resolved.tag = tag;
    if (digest !== undefined) resolved.digest = digest;
    if (tag === undefined && digest === undefined) resolved.tag = DEFAULT_TAG;
    return [resolved];
  }
  const search = conf.unqualifiedSearchRegistries.length > 0 ? conf.unqualifiedSearchRegistries : [DEFAULT_REGISTRY];
  return search.map((registry) => parseReference(`${registry}/${input}`));
}

/**
 * Where to pull `ref` from, in order: each mirror that applies (its location
 * replacing the matched prefix, path included), then the primary location.
 * Throws RegistryBlockedError when the matching entry is blocked.
 */
export function pullSources(ref: Reference, conf: RegistriesConf): PullSource[] {
  const name = referenceName(ref);
  const entry = findRegistry(name, conf);
  if (!entry) return [{ registry: ref.registry, repository: ref.repository, insecure: false, mirror: false }];
  if (entry.blocked) {
    throw new RegistryBlockedError(`registry ${ref.registry} is blocked in ${entry.origin}`, {
      hint: `remove "blocked = true" for prefix "${entry.prefix}" to pull from it`,
    });
  }
  const byDigest = ref.digest !== undefined;
  const mirrors = entry.mirrors.filter((m) => {
    if (entry.mirrorByDigestOnly) return byDigest;
    if (m.pullFromMirror === 'digest-only') return byDigest;
    if (m.pullFromMirror === 'tag-only') return !byDigest;
    return true;
  });
  const prefixEnd = matchPrefix(name, entry.prefix);
  const sources = mirrors.map((m) => rewrite(name, prefixEnd, m, true, entry));
  sources.push(rewrite(name, prefixEnd, entry, false, entry));
  return sources;
}

function rewrite(name: string, prefixEnd: number, endpoint: Endpoint, mirror: boolean, entry: RegistryEntry): PullSource {
  // a wildcard entry without a location pulls from the host that matched
  const rewritten = endpoint.location === '' ? name : endpoint.location + name.slice(prefixEnd);
  const slash = rewritten.indexOf('/');
  const registry = slash === -1 ? rewritten : rewritten.slice(0, slash);
  const repository = slash === -1 ? '' : rewritten.slice(slash + 1);
  try {
    if (!isValidRegistry(registry)) throw new BadReferenceError(`invalid registry "${registry}"`);
    if (repository === '') throw new BadReferenceError('repository name must have at least one component');
    checkRepository(repository);
  } catch (err) {
    throw new RegistriesConfError(
      `rewriting ${name} with prefix "${entry.prefix}" to location "${endpoint.location}" from ${entry.origin}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { registry, repository, insecure: endpoint.insecure, mirror };
}
