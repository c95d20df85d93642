// Authentication: the registry's challenge (WWW-Authenticate), basic
// credentials, and bearer tokens fetched from the realm and cached per scope.
import { RegistryAuthError, RegistryError, parseDistributionErrors } from './errors.js';
import { readBody, readErrorBody, type Transport } from './transport.js';

/** The same shape as core/config/auth.ts's Credentials, kept here so the client stands alone. */
export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  /** Lower case: `basic`, `bearer`. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate value (RFC 7235): one or more challenges, each a
 * scheme and comma-separated `key=value` or `key="quoted, \"escaped\""` params.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  for (let guard = 0; i < n && guard < n + 1; guard++) {
    skipSpace();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const token = readToken();
    if (token === '') {
      i++; // a stray character: skip it rather than loop
      continue;
    }
    skipSpace();
    if (header[i] === '=' && current) {
      i++;
      skipSpace();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vstart = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(vstart, i);
      }
      current.params[token.toLowerCase()] = value;
    } else if (header[i] === '=' && !current) {
      // token68 without a scheme: not something we can use
      i = start + token.length + 1;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** `repository:NAME:pull` — what a pull needs. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

interface CachedToken {
  token: string;
  expires: number;
}

// Tokens live for the process: every client of the same registry, user and scope shares them.
const tokenCache = new Map<string, CachedToken>();

/** Forgets every cached token (tests). */
export function clearTokenCache(): void {
  tokenCache.clear();
}

const MAX_TOKEN_RESPONSE = 1024 * 1024;

export class Authenticator {
  private challenge: Challenge | undefined;

  constructor(
    private readonly registry: string,
    private readonly transport: Transport,
    private readonly credentials: Credentials | undefined,
  ) {}

  get hasCredentials(): boolean {
    return this.credentials !== undefined;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  /** Takes the challenge of a 401; returns false when there is none we can answer. */
  learn(header: string | string[] | undefined): boolean {
    const values = Array.isArray(header) ? header : header ? [header] : [];
    const all = values.flatMap(parseChallenges);
    const usable = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (!usable) return false;
    this.challenge = usable;
    return true;
  }

  private cacheKey(scope: string): string {
    const c = this.challenge!;
    return [this.registry, c.params.realm, c.params.service, this.credentials?.username ?? '', scope].join('\n');
  }

  /** Drops the cached token for `scope`; returns whether there was one to drop. */
  forget(scope: string): boolean {
    if (this.challenge?.scheme !== 'bearer') return false;
    return tokenCache.delete(this.cacheKey(scope));
  }

  /**
   * The Authorization header for a request needing `scope` (undefined when
   * anonymous), and whether it is a token from the cache, which may be stale.
   */
  async authorization(scope: string | undefined, signal?: AbortSignal): Promise<{ header: string | undefined; cached: boolean }> {
    const c = this.challenge;
    if (!c) return { header: undefined, cached: false };
    if (c.scheme === 'basic') return { header: this.credentials ? basicHeader(this.credentials) : undefined, cached: false };
    const cached = tokenCache.get(this.cacheKey(scope ?? ''));
    if (cached && cached.expires > Date.now()) return { header: `Bearer ${cached.token}`, cached: true };
    const token = await this.fetchToken(scope, signal);
    return { header: `Bearer ${token}`, cached: false };
  }

  private async fetchToken(scope: string | undefined, signal?: AbortSignal): Promise<string> {
    const params = this.challenge!.params;
    let realm: URL;
    try {
      realm = new URL(params.realm ?? '');
    } catch {
      throw new RegistryAuthError(`${this.registry}: the registry's token realm ${JSON.stringify(params.realm ?? '')} is not a URL`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryAuthError(`${this.registry}: refusing token realm ${realm.protocol} (only http and https)`);
    }
    if (params.service) realm.searchParams.set('service', params.service);
    if (scope) realm.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = basicHeader(this.credentials);
    const res = await this.transport.send('GET', realm, { headers, signal });
    if (res.status === 401 || res.status === 403) {
      await readErrorBody(res);
      throw this.credentials
        ? new RegistryAuthError(`invalid username or password for ${this.registry}`)
        : new RegistryAuthError(`authentication required for ${this.registry}: run tsbox login ${this.registry}`);
    }
    if (res.status !== 200) {
      const body = await readErrorBody(res);
      const first = parseDistributionErrors(body)[0];
      throw new RegistryError(
        `${this.registry}: getting a token from ${realm.host} failed with status ${res.status}${first ? `: ${first.message || first.code}` : ''}`,
        { transient: res.status >= 500 },
      );
    }
    const bytes = await readBody(res.body, MAX_TOKEN_RESPONSE, () => new RegistryError(`${this.registry}: token response too large`));
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new RegistryError(`${this.registry}: the token server ${realm.host} sent something that is not JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError(`${this.registry}: the token server ${realm.host} sent no token`);
    }
    // The spec's default lifetime is 60 s; refresh a little early.
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    tokenCache.set(this.cacheKey(scope ?? ''), { token, expires: Date.now() + Math.max(lifetime - 5, 1) * 1000 });
    return token;
  }
}

export function basicHeader(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
