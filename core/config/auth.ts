// Registry credentials in containers-auth.json(5), the file podman and docker
// share: {"auths": {"<registry>[/<namespace>]": {"auth": base64("user:password")}}}.
// Credential helpers (credHelpers, credsStore) are not supported: their
// entries are skipped and the caller goes on anonymously.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomHex } from '../random.js';
import { TsboxError, describeSystemError } from '../errors.js';
import { configHome, runtimeDir } from '../paths.js';

export interface Credentials {
  username: string;
  password: string;
}

export class AuthFileError extends TsboxError {}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  [other: string]: unknown;
}

interface AuthEntry {
  auth?: string;
  [other: string]: unknown;
}

/** Where `tsbox login` writes: $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json. */
export function authFilePath(): string {
  return process.env.REGISTRY_AUTH_FILE || join(runtimeDir(), 'containers', 'auth.json');
}

/**
 * The files read for credentials, in order (containers/image's order): the
 * auth file; unless REGISTRY_AUTH_FILE names one, also the persistent
 * $XDG_CONFIG_HOME/containers/auth.json and docker's config.json.
 */
export function authFileSearchPath(): string[] {
  const paths = [authFilePath()];
  if (!process.env.REGISTRY_AUTH_FILE) {
    paths.push(join(configHome(), 'containers', 'auth.json'));
    const dockerConfig = process.env.DOCKER_CONFIG || join(process.env.HOME || homedir(), '.docker');
    paths.push(join(dockerConfig, 'config.json'));
  }
  return paths;
}

/** docker.io goes by several names in these files; they are all one registry. */
function canonicalRegistry(registry: string): string {
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') return 'docker.io';
  return registry;
}

/**
 * The registry a file key stands for, and its namespace if it has one.
 * Docker writes URLs ('https://index.docker.io/v1/'): the path there is an API
 * version, not a namespace.
 */
function parseKey(key: string): { registry: string; namespace?: string } {
  const withoutScheme = key.replace(/^https?:\/\//, '');
  const slash = withoutScheme.indexOf('/');
  const host = slash === -1 ? withoutScheme : withoutScheme.slice(0, slash);
  if (withoutScheme !== key || slash === -1) return { registry: canonicalRegistry(host) };
  return { registry: canonicalRegistry(host), namespace: withoutScheme.slice(slash + 1) };
}

function readAuthFile(path: string): AuthFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new AuthFileError(`reading ${path}: ${describeSystemError(err)}`, { cause: err });
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AuthFileError(`reading ${path}: not valid JSON: ${(err as Error).message}`, {
      hint: 'fix or remove the file, then log in again',
      cause: err,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AuthFileError(`reading ${path}: expected a JSON object`, { hint: 'fix or remove the file, then log in again' });
  }
  const file = parsed as AuthFile;
  if (file.auths !== undefined && (typeof file.auths !== 'object' || file.auths === null || Array.isArray(file.auths))) {
    throw new AuthFileError(`reading ${path}: "auths" must be an object`, { hint: 'fix or remove the file, then log in again' });
  }
  return file;
}

function decodeAuth(entry: AuthEntry, key: string, path: string): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null || typeof entry.auth !== 'string' || entry.auth === '') return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) {
    throw new AuthFileError(`reading ${path}: the "auth" value for ${key} is not base64 of user:password`, {
      hint: `log in to ${key} again`,
    });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Finds the entry for `registry` in one file. With a repository the most
 * specific namespace key wins ('quay.io/org/app' over 'quay.io/org' over
 * 'quay.io'), as podman picks; without one a plain registry key wins, and a
 * namespaced key of the same registry is the fallback.
 */
function lookup(file: AuthFile, path: string, registry: string, repository?: string): Credentials | undefined {
  const auths = file.auths ?? {};
  const wanted = canonicalRegistry(registry);
  const candidates: Array<{ key: string; rank: number }> = [];
  for (const key of Object.keys(auths)) {
    const parsed = parseKey(key);
    if (parsed.registry !== wanted) continue;
    let rank: number;
    if (parsed.namespace === undefined) {
      rank = key === registry ? 2 : 1; // the key as written beats docker's other spellings
    } else if (repository !== undefined && (repository === parsed.namespace || repository.startsWith(`${parsed.namespace}/`))) {
      rank = 3 + parsed.namespace.split('/').length;
    } else if (repository === undefined) {
      rank = 0;
    } else {
      continue; // another namespace's credentials
    }
    candidates.push({ key, rank });
  }
  candidates.sort((a, b) => b.rank - a.rank);
  for (const { key } of candidates) {
    const creds = decodeAuth(auths[key]!, key, path);
    if (creds) return creds;
  }
  return undefined;
}

/** Credentials for a registry (and optionally a repository on it), or undefined for anonymous access. */
export function getCredentials(registry: string, repository?: string): Credentials | undefined {
  for (const path of authFileSearchPath()) {
    const file = readAuthFile(path);
    if (!file) continue;
    const creds = lookup(file, path, registry, repository);
    if (creds) return creds;
  }
  return undefined;
}

/** Writes the whole file under a temporary name, fsyncs and renames it over, so no reader sees half of it. */
function writeAuthFile(path: string, file: AuthFile): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new AuthFileError(`creating ${dir}: ${describeSystemError(err)}`, { cause: err });
  }
  const temp = join(dir, `.${randomHex(6)}.auth.json.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o600);
    writeSync(fd, `${JSON.stringify(file, null, '\t')}\n`);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already renamed
    }
    throw new AuthFileError(`writing ${path}: ${describeSystemError(err)}`, { cause: err });
  }
  // the rename itself must survive a crash too
  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the file is already in place
  }
}

/** Stores credentials for `registry` (a host, or host/namespace) in the auth file, keeping every other entry. */
export function saveCredentials(registry: string, creds: Credentials): void {
  const path = authFilePath();
  const file = readAuthFile(path) ?? {};
  const auths = { ...(file.auths ?? {}) };
  auths[registry] = { auth: Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64') };
  writeAuthFile(path, { ...file, auths });
}

/**
 * Removes the credentials for `registry` from the auth file: the key as given
 * and docker's other spellings of the same host. False when there were none.
 */
export function removeCredentials(registry: string): boolean {
  const path = authFilePath();
  const file = readAuthFile(path);
  if (!file?.auths) return false;
  const auths = { ...file.auths };
  const wanted = parseKey(registry);
  let removed = false;
  for (const key of Object.keys(auths)) {
    const parsed = parseKey(key);
    const same = key === registry || (wanted.namespace === undefined && parsed.namespace === undefined && parsed.registry === wanted.registry);
    if (same) {
      delete auths[key];
      removed = true;
    }
  }
  if (removed) writeAuthFile(path, { ...file, auths });
  return removed;
}

/** Empties the auth file's "auths" (`logout --all`), keeping anything else in it. */
export function removeAllCredentials(): void {
  const path = authFilePath();
  const file = readAuthFile(path);
  if (!file) return;
  writeAuthFile(path, { ...file, auths: {} });
}
