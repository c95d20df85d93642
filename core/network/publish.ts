// `-p/--publish` values as podman reads them: [[ip:][hostPort]:]containerPort[/protocol],
// with ranges (8000-8001:80-81) and bracketed IPv6 addresses ([::1]:8080:80).
import { isIP } from 'node:net';
import { TsboxError } from '../errors.js';

export type PortProtocol = 'tcp' | 'udp';

export interface PortMapping {
  /** '' for every address of the host */
  hostIp: string;
  /** 0 when the host port is to be chosen at start (`-p 80`, `-p 127.0.0.1::80`) */
  hostPort: number;
  containerPort: number;
  /** how many consecutive ports, starting at hostPort and containerPort */
  range: number;
  protocol: PortProtocol;
}

const FORMAT = 'the format is [[ip:][hostPort]:]containerPort[/protocol]';

function publishError(value: string, why: string): TsboxError {
  return new TsboxError(`invalid publish value ${JSON.stringify(value)}: ${why}`, { hint: FORMAT });
}

function parsePort(value: string, text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw publishError(value, `invalid ${what} port ${JSON.stringify(text)}`);
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw publishError(value, `port numbers must be between 1 and 65535 (inclusive), got ${port}`);
  }
  return port;
}

/** `80` or `80-81` → first port and count. */
function parseRange(value: string, text: string, what: string): { start: number; count: number } {
  const parts = text.split('-');
  if (parts.length > 2) throw publishError(value, `invalid ${what} port range ${JSON.stringify(text)}`);
  const start = parsePort(value, parts[0]!, what);
  if (parts.length === 1) return { start, count: 1 };
  const end = parsePort(value, parts[1]!, what);
  if (end < start) {
    throw publishError(value, `the end port of a range must be higher than the start port - ${end} is not higher than ${start}`);
  }
  return { start, count: end - start + 1 };
}

function parseProtocols(value: string, text: string | undefined): PortProtocol[] {
  if (text === undefined) return ['tcp'];
  const protocols: PortProtocol[] = [];
  for (const p of text.toLowerCase().split(',')) {
    if (p === 'tcp' || p === 'udp') {
      if (!protocols.includes(p)) protocols.push(p);
    } else if (p === 'sctp') {
      throw publishError(value, 'sctp is not supported by rootless networking');
    } else {
      throw publishError(value, `unrecognized protocol ${JSON.stringify(p)} in port mapping`);
    }
  }
  return protocols;
}

/** Splits off the host address: `[::1]:8080:80`, `127.0.0.1:8080:80`, `8080:80`, `80`. */
function splitAddress(value: string, spec: string): { hostIp: string; ports: string[] } {
  if (spec.startsWith('[')) {
    const close = spec.indexOf(']');
    if (close < 0 || spec[close + 1] !== ':') throw publishError(value, 'an IPv6 address must be followed by ]:');
    const hostIp = spec.slice(1, close);
    if (isIP(hostIp) !== 6) throw publishError(value, `invalid IPv6 address ${JSON.stringify(hostIp)} in port mapping`);
    const ports = spec.slice(close + 2).split(':');
    if (ports.length !== 2) throw publishError(value, 'expected [ip]:hostPort:containerPort');
    return { hostIp, ports };
  }
  const parts = spec.split(':');
  if (parts.length > 3) throw publishError(value, 'too many colons: IPv6 addresses must be in brackets, as [::1]:8080:80');
  if (parts.length < 3) return { hostIp: '', ports: parts };
  const hostIp = parts[0]!;
  if (hostIp !== '' && isIP(hostIp) === 0) throw publishError(value, `invalid IP address ${JSON.stringify(hostIp)} in port mapping`);
  return { hostIp, ports: parts.slice(1) };
}

/** One `-p` value → one mapping per protocol (`80/tcp,udp` gives two). */
export function parsePublish(value: string): PortMapping[] {
  const trimmed = value.trim();
  if (trimmed === '') throw publishError(value, 'must provide a non-empty container port to publish');
  const slash = trimmed.lastIndexOf('/');
  const spec = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const protocols = parseProtocols(value, slash < 0 ? undefined : trimmed.slice(slash + 1));

  const { hostIp, ports } = splitAddress(value, spec);
  const containerText = ports[ports.length - 1]!;
  if (containerText === '') throw publishError(value, 'must provide a non-empty container port to publish');
  const container = parseRange(value, containerText, 'container');
  const hostText = ports.length === 2 ? ports[0]! : '';
  let hostPort = 0;
  if (hostText !== '') {
    const host = parseRange(value, hostText, 'host');
    // a single host port with a container range is a range starting there, as podman reads it
    if (host.count !== 1 && host.count !== container.count) {
      throw publishError(value, `host and container port ranges have different lengths: ${host.count} vs ${container.count}`);
    }
    hostPort = host.start;
    if (hostPort + container.count - 1 > 65535) throw publishError(value, 'the host port range goes past 65535');
  }
  return protocols.map((protocol) => ({
    hostIp: hostIp === '0.0.0.0' ? '' : hostIp,
    hostPort,
    containerPort: container.start,
    range: container.count,
    protocol,
  }));
}

/**
 * `-p 8080:80 -p 53/udp` → all mappings. The same host port and protocol twice
 * conflicts when the addresses are equal or one of them is every address.
 */
export function parsePublishList(values: string[]): PortMapping[] {
  const mappings = values.flatMap(parsePublish);
  const taken = new Map<string, { hostIp: string; what: string }[]>();
  for (const m of mappings) {
    if (m.hostPort === 0) continue;
    for (let k = 0; k < m.range; k++) {
      const key = `${m.protocol}/${m.hostPort + k}`;
      const earlier = taken.get(key) ?? [];
      const clash = earlier.find((e) => e.hostIp === m.hostIp || e.hostIp === '' || m.hostIp === '');
      if (clash) {
        throw new TsboxError(`host port ${m.hostPort + k}/${m.protocol} is published twice (${clash.what} and ${describeMapping(m)})`, {
          hint: 'give each -p a different host port',
        });
      }
      taken.set(key, [...earlier, { hostIp: m.hostIp, what: describeMapping(m) }]);
    }
  }
  return mappings;
}

/** podman's `port` notation: `127.0.0.1:8080->80/tcp`, ranges as `8000-8001->80-81/tcp`. */
export function describeMapping(m: PortMapping): string {
  const span = (start: number) => (m.range === 1 ? `${start}` : `${start}-${start + m.range - 1}`);
  const ip = m.hostIp.includes(':') ? `[${m.hostIp}]` : m.hostIp || '0.0.0.0';
  return `${ip}:${span(m.hostPort)}->${span(m.containerPort)}/${m.protocol}`;
}
