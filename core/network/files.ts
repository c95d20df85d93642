// The /etc/hosts, /etc/resolv.conf and /etc/hostname a container gets. Pure
// functions of their inputs; the caller reads the host's files.
import { isIP } from 'node:net';
import { TsboxError } from '../errors.js';

/** slirp4netns's built-in DNS forwarder (10.0.2.3 in its default 10.0.2.0/24). */
export const SLIRP4NETNS_DNS = '10.0.2.3';
/** slirp4netns's address for the host (reaches the host's loopback when allowed). */
export const SLIRP4NETNS_GATEWAY = '10.0.2.2';
/** The container's address under slirp4netns's --configure. */
export const SLIRP4NETNS_CONTAINER_IP = '10.0.2.100';
/** The address pasta is told (--dns-forward) to answer DNS on, forwarding to the host's resolver. */
export const PASTA_DNS_FORWARDER = '169.254.1.1';

/** The special --add-host address meaning "the host", as in podman and docker. */
const HOST_GATEWAY = 'host-gateway';
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

export interface HostEntry {
  names: string[];
  ip: string;
}

/** `name:ip` (also `name=ip`; IPv6 addresses may be bracketed) as --add-host takes it. */
export function parseAddHost(value: string, hostGateway?: string): HostEntry {
  const sep = value.search(/[:=]/);
  if (sep <= 0) {
    throw new TsboxError(`invalid --add-host ${JSON.stringify(value)}: expected HOST:IP`, { hint: 'e.g. --add-host db:10.0.2.2' });
  }
  const names = value.slice(0, sep).split(';');
  let ip = value.slice(sep + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  for (const name of names) {
    if (!HOSTNAME.test(name) || name.length > 253) {
      throw new TsboxError(`invalid --add-host ${JSON.stringify(value)}: invalid host name ${JSON.stringify(name)}`);
    }
  }
  if (ip === HOST_GATEWAY) {
    if (!hostGateway) {
      throw new TsboxError(`invalid --add-host ${JSON.stringify(value)}: this network has no address for the host`, {
        hint: 'give the host address explicitly',
      });
    }
    ip = hostGateway;
  } else if (isIP(ip) === 0) {
    throw new TsboxError(`invalid --add-host ${JSON.stringify(value)}: invalid IP address ${JSON.stringify(ip)}`);
  }
  return { names, ip };
}

export interface HostsFileOptions {
  hostname: string;
  /** the container's name, also resolvable when it differs from the hostname */
  name?: string;
  addHosts?: string[];
  /** the container's own address; without one (host or no network) the hostname maps to 127.0.1.1 */
  containerIp?: string;
  /** where host.containers.internal points; no entry without one (see hostGatewayAddress) */
  hostGateway?: string;
}

/**
 * /etc/hosts. --add-host entries come first (the first match wins), then
 * localhost, the container's own names and host.containers.internal.
 */
export function hostsFile(options: HostsFileOptions): string {
  const entries: HostEntry[] = (options.addHosts ?? []).map((v) => parseAddHost(v, options.hostGateway));
  entries.push({ ip: '127.0.0.1', names: ['localhost', 'localhost.localdomain', 'localhost4', 'localhost4.localdomain4'] });
  entries.push({ ip: '::1', names: ['localhost', 'localhost.localdomain', 'localhost6', 'localhost6.localdomain6'] });
  const own = [options.hostname];
  if (options.name && options.name !== options.hostname) own.push(options.name);
  entries.push({ ip: options.containerIp ?? '127.0.1.1', names: own });
  if (options.hostGateway) entries.push({ ip: options.hostGateway, names: ['host.containers.internal', 'host.docker.internal'] });
  return entries.map((e) => `${e.ip}\t${e.names.join(' ')}\n`).join('');
}

export function hostnameFile(name: string): string {
  return `${name}\n`;
}

export interface ParsedResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ParsedResolvConf {
  const parsed: ParsedResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...values] = line.split(/\s+/);
    if (key === 'nameserver' && values[0]) parsed.nameservers.push(values[0]);
    else if (key === 'search' || key === 'domain') parsed.search = values; // the last one wins, as in glibc
    else if (key === 'options') parsed.options.push(...values);
  }
  return parsed;
}

/** 127.0.0.0/8 and ::1: the host's own resolver (systemd-resolved's 127.0.0.53), unreachable from a private netns. */
export function isLoopbackAddress(ip: string): boolean {
  const bare = ip.replace(/%.*$/, '');
  return bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

export type ResolvMode = 'slirp4netns' | 'pasta' | 'host' | 'none';

export interface ResolvConfOptions {
  network: ResolvMode;
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  /** the host's /etc/resolv.conf */
  hostResolvConf: string;
  /**
   * systemd-resolved's list of upstream servers (/run/systemd/resolve/resolv.conf),
   * used as podman does when the host's file names only its loopback stub
   */
  upstreamResolvConf?: string;
}

/** Nameservers of the host that a private netns can reach. */
function reachableHostNameservers(options: ResolvConfOptions): string[] {
  let servers = parseResolvConf(options.hostResolvConf).nameservers.filter((ns) => !isLoopbackAddress(ns));
  if (servers.length === 0 && options.upstreamResolvConf) {
    servers = parseResolvConf(options.upstreamResolvConf).nameservers.filter((ns) => !isLoopbackAddress(ns));
  }
  return servers;
}

/** /etc/resolv.conf for the container. */
export function resolvConf(options: ResolvConfOptions): string {
  const custom = options.dns?.length || options.dnsSearch?.length || options.dnsOption?.length;
  // the host's network sees the host's resolver, loopback stub included
  if (options.network === 'host' && !custom) return options.hostResolvConf;
  for (const ns of options.dns ?? []) {
    if (isIP(ns) === 0) throw new TsboxError(`invalid --dns ${JSON.stringify(ns)}: not an IP address`);
  }

  const host = parseResolvConf(options.hostResolvConf);
  let nameservers: string[];
  if (options.dns?.length) nameservers = options.dns;
  else if (options.network === 'host') nameservers = host.nameservers;
  else if (options.network === 'slirp4netns') nameservers = [SLIRP4NETNS_DNS];
  else {
    nameservers = reachableHostNameservers(options);
    // pasta answers on its forwarder address and asks the host's resolver, loopback stub included
    if (nameservers.length === 0 && options.network === 'pasta') nameservers = [PASTA_DNS_FORWARDER];
  }

  // `--dns-search .` means no search domains, as in podman
  const search = options.dnsSearch?.length ? options.dnsSearch.filter((d) => d !== '.') : host.search;
  const opts = options.dnsOption?.length ? options.dnsOption : host.options;
  let text = '';
  if (search.length) text += `search ${search.join(' ')}\n`;
  for (const ns of nameservers) text += `nameserver ${ns}\n`;
  if (opts.length) text += `options ${opts.join(' ')}\n`;
  return text;
}

export interface HostAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  internal: boolean;
  /** the interface's name */
  device: string;
}

/** The host's addresses as os.networkInterfaces() gives them. */
export function hostAddresses(interfaces: NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>): HostAddress[] {
  return Object.entries(interfaces).flatMap(([device, infos]) =>
    (infos ?? []).map((i) => ({ address: i.address, family: i.family, internal: i.internal, device })),
  );
}

/**
 * Where host.containers.internal points, as podman decides: slirp4netns's
 * gateway when the host's loopback is allowed, else the host's first
 * non-loopback IPv4 address. pasta gives the container the address of the
 * host's default-route interface, so only an address on another interface
 * reaches the host; without one there is no entry (podman 5 does the same).
 */
export function hostGatewayAddress(
  network: ResolvMode,
  addresses: HostAddress[],
  options: { allowHostLoopback?: boolean; defaultRouteDevice?: string } = {},
): string | undefined {
  if (network === 'none') return undefined;
  if (network === 'slirp4netns' && options.allowHostLoopback) return SLIRP4NETNS_GATEWAY;
  const usable = addresses.filter(
    (a) => a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.') && !isLoopbackAddress(a.address),
  );
  if (network === 'pasta') return usable.find((a) => a.device !== options.defaultRouteDevice)?.address;
  return usable[0]?.address;
}
