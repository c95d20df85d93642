// `--network` values and which user-mode network programs this host has.
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TsboxError } from '../errors.js';

export type Backend = 'slirp4netns' | 'pasta';
export const BACKENDS: readonly Backend[] = ['slirp4netns', 'pasta'];

export type NetworkMode =
  | { kind: 'none' }
  | { kind: 'host' }
  /** the default: a private netns with whichever backend defaultBackend() finds */
  | { kind: 'private' }
  | { kind: 'slirp4netns'; allowHostLoopback: boolean; mtu?: number; enableIpv6: boolean }
  /** `pasta:ARG,ARG`: extra pasta arguments, as podman passes them */
  | { kind: 'pasta'; args: string[] };

function networkError(value: string, why: string): TsboxError {
  return new TsboxError(`invalid --network ${JSON.stringify(value)}: ${why}`, {
    hint: 'use none, host, private, slirp4netns[:OPTIONS] or pasta[:ARGS]',
  });
}

function parseBool(value: string, key: string, text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw networkError(value, `${key} must be true or false, got ${JSON.stringify(text)}`);
}

function parseSlirpOptions(value: string, text: string | undefined): NetworkMode {
  const mode = { kind: 'slirp4netns' as const, allowHostLoopback: false, enableIpv6: false, mtu: undefined as number | undefined };
  for (const option of text ? text.split(',') : []) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const val = eq < 0 ? 'true' : option.slice(eq + 1);
    switch (key) {
      case 'allow_host_loopback':
        mode.allowHostLoopback = parseBool(value, key, val);
        break;
      case 'enable_ipv6':
        mode.enableIpv6 = parseBool(value, key, val);
        break;
      case 'mtu':
        if (!/^\d+$/.test(val) || Number(val) < 68 || Number(val) > 65521) {
          throw networkError(value, `mtu must be a number from 68 to 65521, got ${JSON.stringify(val)}`);
        }
        mode.mtu = Number(val);
        break;
      case 'port_handler':
        // podman's rootlessport is not needed: slirp4netns's own forwarder is what we use
        if (val !== 'slirp4netns') throw networkError(value, 'only port_handler=slirp4netns is supported');
        break;
      default:
        throw networkError(value, `unknown slirp4netns option ${JSON.stringify(key)}`);
    }
  }
  return mode;
}

export function parseNetworkMode(value: string): NetworkMode {
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? undefined : value.slice(colon + 1);
  switch (name) {
    case 'none':
    case 'host':
    case 'private':
      if (rest !== undefined) throw networkError(value, `${name} takes no options`);
      return { kind: name };
    case '':
    case 'default':
      if (rest !== undefined) throw networkError(value, 'no options allowed');
      return { kind: 'private' };
    case 'slirp4netns':
      return parseSlirpOptions(value, rest);
    case 'pasta':
      return { kind: 'pasta', args: rest ? rest.split(',').filter((a) => a !== '') : [] };
    case 'bridge':
      throw networkError(value, 'bridge networks need root; rootless containers use slirp4netns or pasta');
    default:
      throw networkError(value, `unknown network mode ${JSON.stringify(name)}`);
  }
}

/** The full path of `program` on `$PATH`, or undefined. */
export function findProgram(program: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface AvailableBackend {
  backend: Backend;
  path: string;
}

/** The backends installed on `$PATH`, in order of preference. */
export function availableBackends(path?: string): AvailableBackend[] {
  const found: AvailableBackend[] = [];
  for (const backend of BACKENDS) {
    const p = findProgram(backend, path);
    if (p) found.push({ backend, path: p });
  }
  return found;
}

/**
 * True when the host has an IPv4 default route. pasta copies its address and
 * gateway from the host's default-route interface; the 2023 version Debian 12
 * ships refuses to start without one (an offline laptop), slirp4netns does not care.
 */
export function hostHasDefaultRoute(routeTable?: string): boolean {
  let text = routeTable;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/route', 'utf8');
    } catch {
      return false;
    }
  }
  return text
    .split('\n')
    .slice(1)
    .some((line) => line.split(/\s+/)[1] === '00000000');
}

export function missingBackendError(): TsboxError {
  return new TsboxError('no rootless network backend found', {
    hint: 'install the passt or slirp4netns package, or use --network none',
  });
}

/**
 * slirp4netns when installed, as podman 4 (Debian 12's) chooses: it is ready
 * in ~6 ms where pasta takes ~20 ms (it opens pools of sockets and pipes up
 * front), on every start. Else pasta, which also keeps the client's source
 * address on published ports (`--network pasta` asks for it). Throws the
 * one-line error when neither is installed.
 */
export function defaultBackend(options: { path?: string } = {}): AvailableBackend {
  const found = availableBackends(options.path);
  const slirp = found.find((b) => b.backend === 'slirp4netns');
  const pasta = found.find((b) => b.backend === 'pasta');
  const chosen = slirp ?? pasta;
  if (chosen) return chosen;
  throw missingBackendError();
}

/** The backend a mode names, found on `$PATH`; the one-line error when it is missing. */
export function requireBackend(backend: Backend, path?: string): AvailableBackend {
  const p = findProgram(backend, path);
  if (p) return { backend, path: p };
  const pkg = backend === 'pasta' ? 'passt' : 'slirp4netns';
  throw new TsboxError(`${backend} not found on $PATH`, {
    hint: `install the ${pkg} package, or use --network none`,
  });
}
