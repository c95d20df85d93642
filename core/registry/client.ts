// The distribution API (v2) for one registry: ping, login check, manifests, blobs.
//
// Handshake, done once per client and shared by every request:
//   1. GET https://HOST/v2/ (for an insecure registry, http:// when https fails);
//   2. 200: anonymous; 401: remember the challenge (Basic or Bearer realm);
//   3. each request then carries Basic credentials, or a bearer token for its
//      scope (fetched from the realm, cached), refreshed once on a 401.
import type { Readable } from 'node:stream';
import { silentReporter, type Reporter } from '../progress.js';
import { Authenticator, pullScope, type Credentials } from './auth.js';
import { resumableBlobStream, type OpenedBlob } from './blobs.js';
import {
  BlobDigestMismatchError,
  BlobUnknownError,
  ManifestInvalidError,
  ManifestUnknownError,
  RegistryAuthError,
  RegistryError,
  RegistryUnreachableError,
  TooManyRequestsError,
  parseDistributionErrors,
  summariseBody,
} from './errors.js';
import { isDigest, MAX_MANIFEST_BYTES, schema1Error, type FetchedManifest } from './manifest.js';
import { isSchema1Type, MANIFEST_ACCEPT } from './media-types.js';
import { readBody, readErrorBody, Transport, withRetries, type HttpResponse } from './transport.js';
import { CORRUPT_HINT, sha256Digest } from './verify.js';

/** What to do about a 403 or a token without access: a typo in the name looks the same as a private repository. */
const DENIED_HINT = 'check the image name, or log in with tsbox login as a user who may pull it';

export interface RegistryClientOptions {
  /** host[:port] as the user names it; docker.io means registry-1.docker.io. */
  registry: string;
  /** Plain http allowed (after https fails) and TLS certificates not verified. */
  insecure: boolean;
  credentials?: Credentials;
  reporter?: Reporter;
  /** Time allowed for response headers; default 30 s. */
  headersTimeoutMs?: number;
  /** Time a body may go without a byte before we reconnect; default 30 s. */
  stallTimeoutMs?: number;
  /** Attempts for each request (and failures in a row for a blob); default 5. */
  tries?: number;
  /** First wait between attempts, doubling; default 200 ms. */
  backoffMs?: number;
}

export interface FetchBlobOptions {
  offset?: number;
  signal?: AbortSignal;
  /** Bytes of the blob held so far (offset included), after each chunk. */
  onProgress?: (bytes: number) => void;
}

/** The host to contact for a registry name. */
export function registryHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

export class RegistryClient {
  readonly registry: string;
  readonly host: string;
  private readonly insecure: boolean;
  private readonly reporter: Reporter;
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly tries: number;
  private readonly backoffMs: number;
  private handshake: Promise<URL> | undefined;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.host = registryHost(options.registry);
    this.insecure = options.insecure;
    this.reporter = options.reporter ?? silentReporter;
    this.tries = Math.max(1, options.tries ?? 5);
    this.backoffMs = options.backoffMs ?? 200;
    this.transport = new Transport({
      registry: this.registry,
      insecure: options.insecure,
      reporter: this.reporter,
      headersTimeoutMs: options.headersTimeoutMs ?? 30_000,
      stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
    });
    this.auth = new Authenticator(this.registry, this.transport, options.credentials);
  }

  /** Releases the connections. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Checks that the credentials are accepted: GET /v2/ with them. */
  async checkLogin(signal?: AbortSignal): Promise<void> {
    const base = await this.base(signal);
    if (this.auth.scheme === undefined) return; // the registry asks for nothing
    const res = await withRetries(`${this.registry}: checking login`, this.retryOptions(signal), () =>
      this.send(base, '/v2/', undefined, { signal }),
    );
    if (res.status === 200) {
      await res.body.dump().catch(() => {});
      return;
    }
    throw await this.statusError(res, this.registry, 'ping');
  }

  /** A manifest or index by tag or digest; a digest reference is verified against the bytes. */
  async getManifest(repository: string, tagOrDigest: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const byDigest = isDigest(tagOrDigest);
    const what = `${this.registry}/${repository}${byDigest ? '@' : ':'}${tagOrDigest}`;
    const base = await this.base(signal);
    return withRetries(`${what}: reading manifest`, this.retryOptions(signal), async () => {
      const res = await this.send(base, `/v2/${repository}/manifests/${tagOrDigest}`, pullScope(repository), {
        signal,
        headers: { accept: MANIFEST_ACCEPT },
      });
      if (res.status !== 200) throw await this.statusError(res, what, 'manifest');
      const declaredLength = Number(res.headers['content-length']);
      const tooBig = () => new ManifestInvalidError(`${what}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
      if (declaredLength > MAX_MANIFEST_BYTES) {
        res.body.destroy();
        throw tooBig();
      }
      let bytes: Buffer;
      try {
        bytes = await readBody(res.body, MAX_MANIFEST_BYTES, tooBig);
      } catch (err) {
        throw this.transport.networkError(err, res.url);
      }
      const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (isSchema1Type(mediaType)) throw schema1Error(what);
      const digest = sha256Digest(bytes);
      // By tag we trust nothing but our own hash; by digest the bytes must match it.
      if (byDigest && digest !== tagOrDigest) {
        throw new ManifestInvalidError(`${what}: the registry sent a manifest whose digest is ${digest}`);
      }
      return { mediaType, digest, bytes };
    });
  }

  /**
   * A blob's bytes from `offset` on, resumed across dropped connections, 5xx
   * and stalls. Not verified here: pipe it through verifyDigest().
   */
  async fetchBlob(repository: string, descriptor: { digest: string; size: number }, options: FetchBlobOptions = {}): Promise<Readable> {
    const offset = options.offset ?? 0;
    const what = `${this.registry}/${repository}@${descriptor.digest}`;
    const base = await this.base(options.signal);
    const open = (position: number): Promise<OpenedBlob> => this.openBlob(base, repository, descriptor, position, what, options.signal);
    const first = await withRetries(`${what}: fetching blob`, this.retryOptions(options.signal), () => open(offset));
    return resumableBlobStream(first, open, {
      digest: descriptor.digest,
      size: descriptor.size,
      offset,
      tries: this.tries,
      backoffMs: this.backoffMs,
      signal: options.signal,
      reporter: this.reporter,
      onProgress: options.onProgress,
      mapError: (err) => this.transport.networkError(err, new URL(base)),
    });
  }

  private async openBlob(
    base: URL,
    repository: string,
    descriptor: { digest: string; size: number },
    position: number,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<OpenedBlob> {
    const headers: Record<string, string> = {};
    if (position > 0) headers.range = `bytes=${position}-`;
    const res = await this.send(base, `/v2/${repository}/blobs/${descriptor.digest}`, pullScope(repository), { signal, headers });
    if (res.status === 206 && position > 0) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!range || Number(range[1]) !== position) {
        res.body.destroy();
        throw new RegistryError(`${what}: asked for bytes from ${position}, the registry sent ${String(res.headers['content-range'] ?? 'no Content-Range')}`, { transient: true });
      }
      return { body: res.body, skip: 0 };
    }
    // 200 to a Range request: the server ignored it; read from the start and skip what we hold.
    if (res.status === 200) return { body: res.body, skip: position };
    if (res.status === 416 && position >= descriptor.size) {
      res.body.destroy();
      throw new RegistryError(`${what}: already have ${position} bytes of a ${descriptor.size}-byte blob`);
    }
    // nothing from `position` on: the blob ended there, short of the size the manifest gives
    const length = /^bytes \*\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
    if (res.status === 416 && length && Number(length[1]) < descriptor.size) {
      res.body.destroy();
      throw new BlobDigestMismatchError(`blob ${descriptor.digest}: got ${length[1]} bytes, expected ${descriptor.size}`, { hint: CORRUPT_HINT });
    }
    throw await this.statusError(res, what, 'blob');
  }

  // ---- handshake, auth and requests ----

  private retryOptions(signal: AbortSignal | undefined) {
    return { tries: this.tries, backoffMs: this.backoffMs, signal, reporter: this.reporter };
  }

  /** The registry's base URL, after the handshake (done once, shared). */
  private base(signal?: AbortSignal): Promise<URL> {
    if (!this.handshake) {
      this.handshake = this.ping(signal);
      this.handshake.catch(() => (this.handshake = undefined)); // a failed ping may be retried by the next call
    }
    return this.handshake;
  }

  private async ping(signal?: AbortSignal): Promise<URL> {
    const https = new URL(`https://${this.host}/`);
    try {
      return await this.pingAt(https, signal);
    } catch (err) {
      // containers/image's rule: an insecure registry may speak plain http.
      if (!this.insecure || !(err instanceof RegistryUnreachableError)) throw err;
      this.reporter.debug(`${this.host}: https failed (${err.message}); trying http`);
      return await this.pingAt(new URL(`http://${this.host}/`), signal);
    }
  }

  private async pingAt(base: URL, signal?: AbortSignal): Promise<URL> {
    // a registry that does not answer the first contact at all is not waited for again
    const res = await withRetries(`${this.registry}: ping`, { ...this.retryOptions(signal), silentTries: 1 }, async () => {
      const res = await this.transport.send('GET', new URL('/v2/', base), { signal });
      if (res.status >= 500) throw await this.statusError(res, this.registry, 'ping');
      return res;
    });
    if (res.status === 200) {
      await res.body.dump().catch(() => {});
      return base;
    }
    if (res.status === 401) {
      const header = res.headers['www-authenticate'];
      await res.body.dump().catch(() => {});
      if (!this.auth.learn(header)) {
        throw new RegistryAuthError(`${this.registry}: the registry asks for an authentication scheme tsbox does not support`);
      }
      return base;
    }
    throw await this.statusError(res, this.registry, 'ping');
  }

  /**
   * A request with the right Authorization. A 401 with a new challenge, or
   * with a cached token that may have expired, is answered once more.
   */
  private async send(
    base: URL,
    path: string,
    scope: string | undefined,
    options: { signal?: AbortSignal; headers?: Record<string, string> },
  ): Promise<HttpResponse> {
    const url = new URL(path, base);
    for (let attempt = 0; ; attempt++) {
      const headers = { ...options.headers };
      const authorization = await this.auth.authorization(scope, options.signal);
      if (authorization.header) headers.authorization = authorization.header;
      const res = await this.transport.send('GET', url, { signal: options.signal, headers });
      if (res.status !== 401 || attempt > 0) return res;
      const previousScheme = this.auth.scheme;
      if (authorization.cached) this.auth.forget(scope ?? '');
      const learned = this.auth.learn(res.headers['www-authenticate']);
      if (!authorization.cached && !(learned && previousScheme === undefined)) return res;
      await res.body.dump().catch(() => {});
      this.reporter.debug(`${this.registry}: 401, authenticating again`);
    }
  }

  /** A registry error for a response that is not what we asked for. */
  private async statusError(res: HttpResponse, what: string, kind: 'ping' | 'manifest' | 'blob'): Promise<RegistryError> {
    const body = await readErrorBody(res);
    const errors = parseDistributionErrors(body);
    if (errors.length > 1) this.reporter.debug(`${what}: the registry also said: ${errors.slice(1).map((e) => `${e.code}: ${e.message}`).join('; ')}`);
    const first = errors[0];
    const codes = new Set(errors.map((e) => e.code));
    const status = res.status;
    if (status === 401) {
      if (!this.auth.hasCredentials) return new RegistryAuthError(`authentication required for ${this.registry}: run tsbox login ${this.registry}`);
      if (this.auth.scheme === 'bearer' && kind !== 'ping') return new RegistryAuthError(`${what}: requested access to the resource is denied`, { hint: DENIED_HINT });
      return new RegistryAuthError(`invalid username or password for ${this.registry}`);
    }
    if (status === 403) return new RegistryAuthError(`${what}: requested access to the resource is denied`, { hint: DENIED_HINT });
    if (status === 404 && kind === 'manifest') {
      if (codes.has('NAME_UNKNOWN')) return new ManifestUnknownError(`${what}: repository not found`, { hint: 'check the image name' });
      return new ManifestUnknownError(`${what}: manifest unknown`, { hint: 'check the image name and tag' });
    }
    if (status === 404 && kind === 'blob') {
      if (codes.has('NAME_UNKNOWN')) return new ManifestUnknownError(`${what}: repository not found`);
      return new BlobUnknownError(`${what}: blob unknown`);
    }
    if (status === 404 && kind === 'ping') {
      return new RegistryError(`${this.registry}: not a container registry (GET /v2/ answered 404)`);
    }
    if (status === 429) {
      return new TooManyRequestsError(`${this.registry}: too many requests`, { hint: 'wait and try again, or log in for a higher rate limit' });
    }
    const detail = first ? `${first.code ? `${first.code}: ` : ''}${first.message}` : summariseBody(body);
    return new RegistryError(`${what}: registry ${this.host} answered ${status}${detail ? `: ${detail}` : ''}`, { transient: status >= 500 });
  }
}
