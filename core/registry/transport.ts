// The HTTP layer: one undici Agent per client, timeouts on every request,
// redirects followed by hand (so credentials never leave the registry's host),
// low-level failures turned into RegistryUnreachableError, bounded retries.
import { Agent, request, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { Reporter } from '../progress.js';
import { RegistryError, RegistrySilentError, RegistryTimeoutError, RegistryUnreachableError } from './errors.js';

export interface TransportOptions {
  /** The name the user knows the registry by, for messages (`docker.io`). */
  registry: string;
  /** Skip TLS certificate verification. */
  insecure: boolean;
  reporter: Reporter;
  /** Time allowed for a response's headers. */
  headersTimeoutMs: number;
  /** Time allowed between two pieces of a body. */
  stallTimeoutMs: number;
}

export interface SendOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** How many redirects to follow (0 to return them). */
  maxRedirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(opts?: { limit: number }): Promise<void> };
  /** Where the response came from, after redirects. */
  url: URL;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 5;

export class Transport {
  private readonly agent: Agent;

  constructor(private readonly options: TransportOptions) {
    this.agent = new Agent({
      connect: { rejectUnauthorized: !options.insecure, timeout: options.headersTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.stallTimeoutMs,
    });
  }

  get stallTimeoutMs(): number {
    return this.options.stallTimeoutMs;
  }

  /** One request (plus its redirects). Never retries; throws RegistryUnreachableError on network failures. */
  async send(method: 'GET' | 'HEAD', url: URL, options: SendOptions = {}): Promise<HttpResponse> {
    const originalHost = url.host;
    let headers = { ...options.headers };
    let current = url;
    const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
    for (let redirects = 0; ; redirects++) {
      this.options.reporter.debug(`${method} ${redactUrl(current)}`);
      const sent = performance.now();
      let res: Dispatcher.ResponseData;
      try {
        res = await request(current, {
          method,
          headers,
          dispatcher: this.agent,
          signal: options.signal,
          headersTimeout: this.options.headersTimeoutMs,
          bodyTimeout: this.options.stallTimeoutMs,
        });
      } catch (err) {
        this.options.reporter.debug(`${method} ${redactUrl(current)} failed after ${Math.round(performance.now() - sent)} ms: ${(err as Error)?.message ?? String(err)}`);
        throw this.networkError(err, current);
      }
      this.options.reporter.debug(`${method} ${redactUrl(current)} -> ${res.statusCode} (${Math.round(performance.now() - sent)} ms)`);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode) || typeof location !== 'string' || redirects >= maxRedirects) {
        if (REDIRECTS.has(res.statusCode) && maxRedirects > 0 && redirects >= maxRedirects) {
          await res.body.dump().catch(() => {});
          throw new RegistryError(`${this.options.registry}: more than ${maxRedirects} redirects`);
        }
        return { status: res.statusCode, headers: res.headers, body: res.body as HttpResponse['body'], url: current };
      }
      await res.body.dump().catch(() => {});
      const next = new URL(location, current);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new RegistryError(`${this.options.registry}: refusing a redirect to ${next.protocol} URL`);
      }
      // Our credentials are for the registry only, never for the storage it sends us to.
      if (next.host !== originalHost) {
        const { authorization: _dropped, ...rest } = headers;
        headers = rest;
      }
      current = next;
    }
  }

  /** Maps an undici/Node failure to a RegistryUnreachableError (aborts pass through unchanged). */
  networkError(err: unknown, url: URL): Error {
    if (err instanceof RegistryError) return err;
    const e = err as NodeJS.ErrnoException & { name?: string };
    if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') return e;
    const host = url.host;
    const code = e?.code ?? '';
    const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
    switch (code) {
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
      case 'ETIMEDOUT':
        return new RegistrySilentError(`registry ${host} did not answer within ${seconds(this.options.headersTimeoutMs)}`, {
          cause: err,
          transient: true,
          hint: 'check that the registry is up and reachable from this machine',
        });
      case 'UND_ERR_BODY_TIMEOUT':
        return new RegistryTimeoutError(`registry ${host} sent no data for ${seconds(this.options.stallTimeoutMs)}`, { cause: err, transient: true });
      case 'ECONNREFUSED':
        return new RegistryUnreachableError(`cannot reach registry ${host}: connection refused`, { cause: err, transient: true });
      case 'ENOTFOUND':
        return new RegistryUnreachableError(`cannot reach registry ${host}: no such host`, { cause: err });
      case 'EAI_AGAIN':
        return new RegistryUnreachableError(`cannot reach registry ${host}: name lookup failed, try again`, { cause: err, transient: true });
      case 'ECONNRESET':
      case 'EPIPE':
      case 'UND_ERR_SOCKET':
      case 'UND_ERR_CLOSED':
        return new RegistryUnreachableError(`registry ${host} closed the connection`, { cause: err, transient: true });
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new RegistryUnreachableError(`cannot reach registry ${host}: no route to host`, { cause: err, transient: true });
    }
    if (isTlsError(code, e?.message ?? '')) {
      // OpenSSL's own text is a line of internals; say what it means.
      const why = /wrong version number|packet length too long/i.test(e.message)
        ? 'the server does not speak TLS (plain http?)'
        : e.message.split('\n')[0]!;
      return new RegistryUnreachableError(`cannot reach registry ${host}: TLS: ${why}`, {
        cause: err,
        hint: 'use --tls-verify=false, or mark the registry insecure in registries.conf, only if you trust the network',
      });
    }
    return new RegistryUnreachableError(`cannot reach registry ${host}: ${e?.message ?? String(err)}`, { cause: err, transient: true });
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => {});
  }
}

function isTlsError(code: string, message: string): boolean {
  return (
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    code.startsWith('CERT_') ||
    code === 'EPROTO' ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    /\bSSL\b|\bTLS\b|certificate/i.test(message)
  );
}

// Signed storage URLs and token endpoints carry secrets in their query strings.
const SECRET_PARAM = /token|sig|signature|secret|password|credential|key|auth/i;

/** The URL with the values of secret-looking query parameters replaced, for logs. */
export function redactUrl(url: URL): string {
  if (!url.search) return url.href;
  const copy = new URL(url.href);
  for (const name of [...copy.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) copy.searchParams.set(name, 'REDACTED');
  }
  copy.username = '';
  copy.password = '';
  return copy.href;
}

export interface RetryOptions {
  tries: number;
  /** Attempts that may end with no answer at all (RegistrySilentError); default 2. */
  silentTries?: number;
  backoffMs: number;
  signal?: AbortSignal;
  reporter: Reporter;
}

/** Runs `attempt` until it succeeds, fails for good, or `tries` run out; waits backoffMs, doubling, in between. */
export async function withRetries<T>(what: string, options: RetryOptions, attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof RegistryError) || !err.transient) throw err;
      if (i >= options.tries || (err instanceof RegistrySilentError && i >= (options.silentTries ?? 2))) {
        // the user should know it was not a single failure
        if (i > 1) err.message = `${err.message} (tried ${i} times)`;
        throw err;
      }
      const wait = options.backoffMs * 2 ** (i - 1);
      options.reporter.debug(`${what}: ${err.message}; retrying in ${wait} ms (attempt ${i + 1} of ${options.tries})`);
      await sleep(wait, options.signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Reads at most `limit` bytes of a body; `truncate` keeps the first `limit` bytes instead of failing. */
export async function readBody(body: Readable, limit: number, onTooBig: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      body.destroy();
      throw onTooBig();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The first `limit` bytes of an error body, as text; never throws. */
export async function readErrorBody(res: HttpResponse, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      const room = limit - total;
      chunks.push(chunk.subarray(0, room));
      total += Math.min(chunk.length, room);
      if (total >= limit) break;
    }
  } catch {
    // a broken error body still leaves us the status code
  } finally {
    res.body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}
