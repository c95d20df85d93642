// A tiny DNS server for tests: answers A queries for the names it is given
// and NXDOMAIN for the rest, over UDP. Run as a script inside a container's
// network namespace (nsenter), it lets a test check that the container
// resolves through the DNS server its resolv.conf names.
//
//   node dns-server.js ADDRESS PORT NAME=IP [NAME=IP...]
// prints "ready" once it listens.
import { createSocket } from 'node:dgram';

/** The question name of a DNS query, and the offset just past the question. */
export function questionOf(query: Buffer): { name: string; type: number; end: number } | undefined {
  let offset = 12;
  const labels: string[] = [];
  while (offset < query.length) {
    const length = query[offset]!;
    if (length === 0) break;
    if (length > 63) return undefined; // no compression in questions
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
    offset += 1 + length;
  }
  if (offset + 5 > query.length) return undefined;
  const type = query.readUInt16BE(offset + 1);
  return { name: labels.join('.').toLowerCase(), type, end: offset + 5 };
}

/** The answer to `query` from `records` (name → IPv4 address). */
export function answer(query: Buffer, records: Map<string, string>): Buffer | undefined {
  if (query.length < 12) return undefined;
  const question = questionOf(query);
  if (!question) return undefined;
  const address = records.get(question.name);
  const header = Buffer.from(query.subarray(0, 12));
  const found = address !== undefined && question.type === 1;
  header.writeUInt16BE(0x8180 | (address === undefined ? 3 : 0), 2); // response, recursion available; NXDOMAIN when unknown
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(found ? 1 : 0, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  const parts = [header, query.subarray(12, question.end)];
  if (found) {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(1, 2); // A
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(60, 6); // TTL
    record.writeUInt16BE(4, 10);
    address!.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
    parts.push(record);
  }
  return Buffer.concat(parts);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [address, port, ...pairs] = process.argv.slice(2);
  const records = new Map(pairs.map((pair) => pair.split('=') as [string, string]));
  const socket = createSocket('udp4');
  socket.on('message', (message, remote) => {
    const reply = answer(message, records);
    if (reply) socket.send(reply, remote.port, remote.address);
  });
  socket.bind(Number(port), address, () => console.log('ready'));
  // bounded: a test that forgets us does not leave us forever
  setTimeout(() => process.exit(0), 120_000).unref();
  setTimeout(() => socket.close(), 120_000);
}
