// The registry client against the real docker-registry (distribution 2.8), and
// against small node:http mocks for what a real registry cannot be made to do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { request } from 'undici';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { withTimeout } from '../lib/timeout.js';
import { RegistryClient } from '../../core/registry/client.js';
import { verifyDigest } from '../../core/registry/verify.js';
import { parseManifest } from '../../core/registry/manifest.js';
import { clearTokenCache } from '../../core/registry/auth.js';
import * as types from '../../core/registry/media-types.js';
import {
  BlobDigestMismatchError,
  ManifestUnknownError,
  RegistryAuthError,
  RegistryError,
  RegistryTimeoutError,
  RegistrySilentError,
  RegistryUnreachableError,
} from '../../core/registry/errors.js';

const LIMIT = 20_000;
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// ---- pushing an image with the raw distribution API ----

async function pushBlob(base: string, repo: string, bytes: Buffer, authorization?: string): Promise<string> {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const start = await request(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await start.body.dump();
  assert.is(start.statusCode, 202, 'upload started');
  const location = new URL(String(start.headers.location), base);
  const digest = digestOf(bytes);
  location.searchParams.set('digest', digest);
  const put = await request(location, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    body: bytes,
  });
  await put.body.dump();
  assert.is(put.statusCode, 201, 'blob stored');
  return digest;
}

interface Pushed {
  manifest: Buffer;
  digest: string;
  layer: Buffer;
  layerDigest: string;
}

async function pushImage(base: string, repo: string, tag: string, authorization?: string): Promise<Pushed> {
  const layer = randomBytes(300_000);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layerDigest = await pushBlob(base, repo, layer, authorization);
  const configDigest = await pushBlob(base, repo, config, authorization);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.OCI_MANIFEST,
      config: { mediaType: types.OCI_CONFIG, digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const res = await request(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': types.OCI_MANIFEST, ...(authorization ? { authorization } : {}) },
    body: manifest,
  });
  const text = await res.body.text();
  assert.is(res.statusCode, 201, `manifest stored: ${text}`);
  return { manifest, digest: digestOf(manifest), layer, layerDigest };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

async function collectVerified(stream: Readable, expected: { digest: string; size: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    stream,
    verifyDigest(expected),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

async function rejection(promise: Promise<unknown>, what: string): Promise<Error> {
  try {
    await withTimeout(promise, LIMIT, what);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`expected ${what} to fail`);
}

// ---- a small mock server ----

interface Mock {
  server: Server;
  host: string;
  url: string;
  close(): Promise<void>;
}

async function startMock(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Mock> {
  const server: Server = createServer(handler);
  await withTimeout(new Promise<void>((r) => server.listen(0, '127.0.0.1', r)), 5000, 'mock to listen');
  const address = server.address() as { port: number };
  const host = `127.0.0.1:${address.port}`;
  return {
    server,
    host,
    url: `http://${host}`,
    async close() {
      server.closeAllConnections();
      await withTimeout(new Promise((r) => server.close(r)), 5000, 'mock to close');
    },
  };
}

// ---- the real registry ----

let registry: TestRegistry;
let pushed: Pushed;
const fast = { tries: 3, backoffMs: 20 };

test.before(async () => {
  registry = await startRegistry();
  pushed = await pushImage(registry.url, 'test/app', 'v1');
});

test.after(async () => {
  await registry?.stop();
});

test.before.each(() => clearTokenCache());

test('a manifest read by tag has the digest of its bytes and parses', async () => {
  const client = new RegistryClient({ registry: registry.host, insecure: true, ...fast });
  const m = await withTimeout(client.getManifest('test/app', 'v1'), LIMIT, 'manifest');
  await client.close();
  assert.is(m.digest, pushed.digest);
  assert.is(m.mediaType, types.OCI_MANIFEST);
  assert.ok(m.bytes.equals(pushed.manifest));
  const parsed = parseManifest(m);
  assert.is(parsed.kind, 'manifest');
  if (parsed.kind === 'manifest') assert.is(parsed.layers[0]!.digest, pushed.layerDigest);
});

test('a manifest read by digest is the same bytes', async () => {
  const client = new RegistryClient({ registry: registry.host, insecure: true, ...fast });
  const m = await withTimeout(client.getManifest('test/app', pushed.digest), LIMIT, 'manifest');
  await client.close();
  assert.is(m.digest, pushed.digest);
  assert.ok(m.bytes.equals(pushed.manifest));
});

test('a blob streams whole and passes verification, reporting progress', async () => {
  const client = new RegistryClient({ registry: registry.host, insecure: true, ...fast });
  const expected = { digest: pushed.layerDigest, size: pushed.layer.length };
  let last = 0;
  const stream = await withTimeout(client.fetchBlob('test/app', expected, { onProgress: (n) => (last = n) }), LIMIT, 'blob');
  const bytes = await withTimeout(collectVerified(stream, expected), LIMIT, 'blob body');
  await client.close();
  assert.ok(bytes.equals(pushed.layer));
  assert.is(last, pushed.layer.length);
});

test('a blob read from an offset starts at that byte', async () => {
  const client = new RegistryClient({ registry: registry.host, insecure: true, ...fast });
  const stream = await withTimeout(
    client.fetchBlob('test/app', { digest: pushed.layerDigest, size: pushed.layer.length }, { offset: 123_456 }),
    LIMIT,
    'blob',
  );
  const bytes = await withTimeout(collect(stream), LIMIT, 'blob body');
  await client.close();
  assert.ok(bytes.equals(pushed.layer.subarray(123_456)));
});

test('a blob checked against the wrong digest or size is rejected', async () => {
  const client = new RegistryClient({ registry: registry.host, insecure: true, ...fast });
  const real = { digest: pushed.layerDigest, size: pushed.layer.length };
  const wrongDigest = { digest: `sha256:${'0'.repeat(64)}`, size: pushed.layer.length };
  const err = await rejection(collectVerified(await client.fetchBlob('test/app', real), wrongDigest), 'wrong digest');
  assert.instance(err, BlobDigestMismatchError);
  assert.match(err.message, 'digest mismatch');
  assert.match((err as BlobDigestMismatchError).userMessage(), /\(nothing was stored; pull again, and if it repeats the registry or a mirror serves corrupt data: pull without the mirror or tell its operator\)$/);
  const short = await rejection(collectVerified(await client.fetchBlob('test/app', real), { ...real, size: 1000 }), 'wrong size');
  assert.instance(short, BlobDigestMismatchError);
  assert.match(short.message, 'more than the expected 1000 bytes');
  await client.close();
});

test('an unknown tag is "manifest unknown" and an unknown digest too', async () => {
  const client = new RegistryClient({ registry: registry.host, insecure: true, ...fast });
  const err = await rejection(client.getManifest('test/app', 'nosuch'), 'unknown tag');
  assert.instance(err, ManifestUnknownError);
  assert.is(err.message, `${registry.host}/test/app:nosuch: manifest unknown`);
  const byDigest = await rejection(client.getManifest('test/app', `sha256:${'1'.repeat(64)}`), 'unknown digest');
  assert.instance(byDigest, ManifestUnknownError);
  assert.match(byDigest.message, /@sha256:1{64}: manifest unknown$/);
  const repo = await rejection(client.getManifest('test/nosuch', 'latest'), 'unknown repository');
  assert.instance(repo, ManifestUnknownError);
  assert.match(repo.message, new RegExp(`^${registry.host}/test/nosuch:latest: manifest unknown$`));
  await client.close();
});

test('a registry that is not insecure is only spoken to over https', async () => {
  const client = new RegistryClient({ registry: registry.host, insecure: false, ...fast });
  const err = await rejection(client.getManifest('test/app', 'v1'), 'https to an http registry');
  await client.close();
  assert.instance(err, RegistryUnreachableError);
  assert.match(err.message, `cannot reach registry ${registry.host}`);
});

test('a closed port is "connection refused", after bounded retries', async () => {
  const mock = await startMock(() => {});
  const host = mock.host;
  await mock.close();
  const client = new RegistryClient({ registry: host, insecure: true, ...fast });
  const err = await rejection(client.getManifest('a/b', 'latest'), 'refused');
  await client.close();
  assert.instance(err, RegistryUnreachableError);
  assert.is(err.message, `cannot reach registry ${host}: connection refused (tried ${fast.tries} times)`);
});

// ---- basic auth with a real htpasswd-protected registry ----

test('basic auth: right credentials pass, wrong ones and none are refused with the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-htpasswd-'));
  const file = join(dir, 'htpasswd');
  writeFileSync(file, execFileSync('htpasswd', ['-Bbn', 'alice', 's3cret'], { timeout: 10_000 }));
  const secured = await startRegistry({ htpasswd: file });
  try {
    const basic = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    const image = await pushImage(secured.url, 'private/app', 'v1', basic);

    const good = new RegistryClient({ registry: secured.host, insecure: true, credentials: { username: 'alice', password: 's3cret' }, ...fast });
    await withTimeout(good.checkLogin(), LIMIT, 'login');
    const m = await withTimeout(good.getManifest('private/app', 'v1'), LIMIT, 'manifest');
    assert.is(m.digest, image.digest);
    await good.close();

    const bad = new RegistryClient({ registry: secured.host, insecure: true, credentials: { username: 'alice', password: 'wrong' }, ...fast });
    const badErr = await rejection(bad.checkLogin(), 'wrong password');
    await bad.close();
    assert.instance(badErr, RegistryAuthError);
    assert.is(badErr.message, `invalid username or password for ${secured.host}`);
    assert.not.match(badErr.message, 'wrong');

    const anonymous = new RegistryClient({ registry: secured.host, insecure: true, ...fast });
    const anonErr = await rejection(anonymous.getManifest('private/app', 'v1'), 'anonymous');
    await anonymous.close();
    assert.instance(anonErr, RegistryAuthError);
    assert.is(anonErr.message, `authentication required for ${secured.host}: run tsbox login ${secured.host}`);
  } finally {
    await secured.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- mocks: bearer tokens ----

test('bearer: the challenge is answered with a token for the scope, cached, and refreshed once on a 401', async () => {
  const tokenRequests: URL[] = [];
  const valid = new Set<string>();
  let issued = 0;
  let host = '';
  const mock = await startMock((req, res) => {
    const url = new URL(req.url!, `http://${host}`);
    if (url.pathname === '/token') {
      tokenRequests.push(url);
      if (req.headers.authorization !== `Basic ${Buffer.from('bob:pw').toString('base64')}`) {
        res.writeHead(401).end();
        return;
      }
      const token = `tok-${++issued}`;
      valid.add(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_in: 300 }));
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !valid.has(auth.slice(7))) {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${host}/token",service="mock, registry",scope="repository:x/y:pull,push"`,
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    res.writeHead(200, { 'content-type': types.OCI_INDEX }).end(JSON.stringify({ schemaVersion: 2, mediaType: types.OCI_INDEX, manifests: [] }));
  });
  host = mock.host;
  try {
    const client = new RegistryClient({ registry: host, insecure: true, credentials: { username: 'bob', password: 'pw' }, ...fast });
    await withTimeout(client.getManifest('x/y', 'latest'), LIMIT, 'first');
    await withTimeout(client.getManifest('x/y', 'other'), LIMIT, 'second');
    assert.is(tokenRequests.length, 1, 'one token for one scope');
    assert.is(tokenRequests[0]!.searchParams.get('service'), 'mock, registry');
    assert.is(tokenRequests[0]!.searchParams.get('scope'), 'repository:x/y:pull');

    await withTimeout(client.getManifest('x/z', 'latest'), LIMIT, 'another repository');
    assert.is(tokenRequests.length, 2, 'a new scope needs a new token');
    assert.is(tokenRequests[1]!.searchParams.get('scope'), 'repository:x/z:pull');

    valid.clear(); // the registry forgets every token: the cached one must be refreshed
    await withTimeout(client.getManifest('x/y', 'latest'), LIMIT, 'after expiry');
    assert.is(tokenRequests.length, 3);
    await client.close();

    const wrong = new RegistryClient({ registry: host, insecure: true, credentials: { username: 'bob', password: 'nope' }, ...fast });
    const err = await rejection(wrong.checkLogin(), 'wrong password');
    await wrong.close();
    assert.instance(err, RegistryAuthError);
    assert.is(err.message, `invalid username or password for ${host}`);
  } finally {
    await mock.close();
  }
});

test('bearer: a realm that is not http or https is refused', async () => {
  const mock = await startMock((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="file:///etc/passwd",service="x"' }).end();
  });
  try {
    const client = new RegistryClient({ registry: mock.host, insecure: true, ...fast });
    const err = await rejection(client.getManifest('a/b', 'latest'), 'file realm');
    await client.close();
    assert.instance(err, RegistryAuthError);
    assert.match(err.message, 'refusing token realm file:');
  } finally {
    await mock.close();
  }
});

// ---- mocks: blobs that break ----

function blobMock(blob: Buffer, serve: (req: IncomingMessage, res: ServerResponse, attempt: number) => void) {
  let attempts = 0;
  return startMock((req, res) => {
    if (req.url === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    serve(req, res, ++attempts);
  });
}

test('a blob whose connection drops midway is resumed with Range and arrives whole', async () => {
  const blob = randomBytes(200_000);
  const expected = { digest: digestOf(blob), size: blob.length };
  const ranges: Array<string | undefined> = [];
  const mock = await blobMock(blob, (req, res, attempt) => {
    ranges.push(req.headers.range);
    if (attempt === 1) {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(blob.subarray(0, 70_000), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(206, { 'content-length': String(blob.length - start), 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` });
    res.end(blob.subarray(start));
  });
  try {
    const client = new RegistryClient({ registry: mock.host, insecure: true, ...fast });
    const bytes = await withTimeout(collectVerified(await client.fetchBlob('a/b', expected), expected), LIMIT, 'resumed blob');
    await client.close();
    assert.ok(bytes.equals(blob));
    assert.is(ranges.length, 2);
    assert.is(ranges[0], undefined);
    assert.match(ranges[1] ?? '', /^bytes=[1-9]\d*-$/);
    assert.ok(Number(/\d+/.exec(ranges[1]!)![0]) <= 70_000);
  } finally {
    await mock.close();
  }
});

test('when the server ignores Range, the resumed blob skips what it already has', async () => {
  const blob = randomBytes(100_000);
  const expected = { digest: digestOf(blob), size: blob.length };
  const mock = await blobMock(blob, (_req, res, attempt) => {
    res.writeHead(200, { 'content-length': String(blob.length) });
    if (attempt === 1) res.write(blob.subarray(0, 40_000), () => setTimeout(() => res.socket?.destroy(), 50));
    else res.end(blob);
  });
  try {
    const client = new RegistryClient({ registry: mock.host, insecure: true, ...fast });
    const bytes = await withTimeout(collectVerified(await client.fetchBlob('a/b', expected), expected), LIMIT, 'restarted blob');
    await client.close();
    assert.ok(bytes.equals(blob));
  } finally {
    await mock.close();
  }
});

test('a server that stops sending fails with a stall timeout after bounded retries', async () => {
  const blob = randomBytes(10_000);
  let requests = 0;
  const mock = await blobMock(blob, (_req, res) => {
    requests++;
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.write(blob.subarray(0, 100)); // then nothing, forever
  });
  try {
    const client = new RegistryClient({ registry: mock.host, insecure: true, stallTimeoutMs: 200, tries: 2, backoffMs: 10 });
    const started = Date.now();
    const err = await rejection(collect(await client.fetchBlob('a/b', { digest: digestOf(blob), size: blob.length })), 'stalled blob');
    await client.close();
    assert.instance(err, RegistryTimeoutError);
    assert.is(err.message, `registry ${mock.host} sent no data for 0.2 s`);
    assert.is(requests, 2);
    assert.ok(Date.now() - started < 5000);
  } finally {
    await mock.close();
  }
});

test('a server that never answers fails with a headers timeout', async () => {
  const mock = await startMock(() => {}); // accepts, never answers
  try {
    const client = new RegistryClient({ registry: mock.host, insecure: true, headersTimeoutMs: 200, tries: 2, backoffMs: 10 });
    const err = await rejection(client.getManifest('a/b', 'latest'), 'silent server');
    await client.close();
    assert.instance(err, RegistryTimeoutError);
    assert.is(err.message, `registry ${mock.host} did not answer within 0.2 s`);
  } finally {
    await mock.close();
  }
});

test('a registry that never answers is not waited for five times: the first contact is tried once per scheme', async () => {
  let connections = 0;
  const mock = await startMock(() => {}); // accepts, never answers
  mock.server.on('connection', () => connections++);
  try {
    const client = new RegistryClient({ registry: mock.host, insecure: true, headersTimeoutMs: 400, tries: 5, backoffMs: 10 });
    const started = Date.now();
    const err = await rejection(client.getManifest('a/b', 'latest'), 'silent server');
    const elapsed = Date.now() - started;
    await client.close();
    assert.instance(err, RegistrySilentError);
    assert.is((err as RegistrySilentError).userMessage(), `registry ${mock.host} did not answer within 0.4 s (check that the registry is up and reachable from this machine)`);
    // https (refused by the plain http server at once) and http (silent, one timeout): five timeouts would take 2 s
    assert.ok(elapsed < 1500, `gave up after ${elapsed} ms`);
    assert.ok(connections <= 7, `${connections} connections`);
  } finally {
    await mock.close();
  }
});

test('5xx answers are retried until one succeeds, and reported when they do not stop', async () => {
  let requests = 0;
  let failuresLeft = 2;
  const body = JSON.stringify({ schemaVersion: 2, mediaType: types.OCI_INDEX, manifests: [] });
  const mock = await startMock((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end();
    requests++;
    if (failuresLeft-- > 0) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'try later' }, { code: 'OTHER', message: 'x' }] }));
      return;
    }
    res.writeHead(200, { 'content-type': types.OCI_INDEX }).end(body);
  });
  try {
    const client = new RegistryClient({ registry: mock.host, insecure: true, ...fast });
    const m = await withTimeout(client.getManifest('a/b', 'latest'), LIMIT, 'after 503s');
    assert.is(requests, 3);
    assert.is(m.bytes.toString(), body);
    failuresLeft = 100;
    requests = 0;
    const err = await rejection(client.getManifest('a/b', 'latest'), 'endless 503');
    await client.close();
    assert.is(requests, 3);
    assert.instance(err, RegistryError);
    assert.is(err.message, `${mock.host}/a/b:latest: registry ${mock.host} answered 503: UNAVAILABLE: try later (tried 3 times)`);
  } finally {
    await mock.close();
  }
});

test('a redirect to another host is followed without our Authorization header', async () => {
  const blob = randomBytes(5000);
  const expected = { digest: digestOf(blob), size: blob.length };
  const storageAuth: Array<string | undefined> = [];
  const registryAuth: Array<string | undefined> = [];
  const storage = await startMock((req, res) => {
    storageAuth.push(req.headers.authorization);
    res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
  });
  const basic = `Basic ${Buffer.from('carol:pw').toString('base64')}`;
  const mock = await startMock((req, res) => {
    registryAuth.push(req.headers.authorization);
    if (req.headers.authorization !== basic) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="mock"' }).end();
    if (req.url === '/v2/') return void res.writeHead(200).end();
    if (req.url?.startsWith('/v2/a/b/blobs/')) return void res.writeHead(307, { location: `/hop?n=1` }).end();
    if (req.url === '/hop?n=1') return void res.writeHead(302, { location: `${storage.url}/data?X-Amz-Signature=secret` }).end();
    if (req.url?.startsWith('/v2/a/loop/blobs/') || req.url === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
    res.writeHead(404).end();
  });
  try {
    const debug: string[] = [];
    const reporter = { start() {}, progress() {}, finish() {}, info() {}, warn() {}, debug: (m: string) => debug.push(m) };
    const client = new RegistryClient({ registry: mock.host, insecure: true, credentials: { username: 'carol', password: 'pw' }, reporter, ...fast });
    const bytes = await withTimeout(collectVerified(await client.fetchBlob('a/b', expected), expected), LIMIT, 'redirected blob');
    assert.ok(bytes.equals(blob));
    assert.equal(storageAuth, [undefined]);
    assert.ok(registryAuth.filter((a) => a === basic).length >= 2, 'the registry itself got the credentials, hop included');
    assert.ok(debug.some((l) => l.includes('X-Amz-Signature=REDACTED')), 'debug trace shows the redirect');
    assert.not.ok(debug.some((l) => l.includes('secret')), 'no signature in the trace');

    const err = await rejection(client.fetchBlob('a/loop', expected), 'redirect loop');
    await client.close();
    assert.match(err.message, 'more than 5 redirects');
  } finally {
    await mock.close();
    await storage.close();
  }
});

test.run();
