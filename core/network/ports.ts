// Host ports for `-p 80` and `-p 127.0.0.1::80`, chosen when the network starts.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { TsboxError } from '../errors.js';
import type { PortMapping, PortProtocol } from './publish.js';

function bindAddress(hostIp: string): string {
  if (hostIp) return hostIp;
  return '0.0.0.0';
}

/** Binds (and releases) a port to see whether it is free; port 0 asks the kernel for one. */
function probe(protocol: PortProtocol, hostIp: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const socket = createSocket(hostIp.includes(':') ? 'udp6' : 'udp4');
      socket.once('error', () => {
        socket.close();
        resolve(undefined);
      });
      socket.bind(port, bindAddress(hostIp), () => {
        const got = socket.address().port;
        socket.close(() => resolve(got));
      });
      return;
    }
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: bindAddress(hostIp), exclusive: true }, () => {
      const address = server.address();
      const got = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(got));
    });
  });
}

const RANGE_ATTEMPTS = 32;

/** A free run of `count` consecutive host ports. */
async function freeRange(protocol: PortProtocol, hostIp: string, count: number): Promise<number> {
  if (count === 1) {
    const port = await probe(protocol, hostIp, 0);
    if (port) return port;
  } else {
    for (let attempt = 0; attempt < RANGE_ATTEMPTS; attempt++) {
      const base = 20000 + Math.floor(Math.random() * (60000 - 20000 - count));
      let ok = true;
      for (let k = 0; k < count && ok; k++) ok = (await probe(protocol, hostIp, base + k)) !== undefined;
      if (ok) return base;
    }
  }
  throw new TsboxError(`no free host port for ${count} ${protocol} port(s) on ${hostIp || 'all addresses'}`, {
    hint: 'give the host port explicitly with -p HOSTPORT:CONTAINERPORT',
  });
}

/** The mappings with every host port 0 replaced by a free one. */
export async function assignHostPorts(mappings: PortMapping[]): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  for (const m of mappings) {
    out.push(m.hostPort !== 0 ? m : { ...m, hostPort: await freeRange(m.protocol, m.hostIp, m.range) });
  }
  return out;
}
