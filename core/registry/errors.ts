// What can go wrong talking to a registry, worded for the user as podman does.
import { TsboxError } from '../errors.js';

/** Any failure reported by, or on the way to, a registry. */
export class RegistryError extends TsboxError {
  /** Worth trying again: a dropped connection, a timeout, a 5xx. */
  readonly transient: boolean;

  constructor(message: string, options: { hint?: string; cause?: unknown; transient?: boolean } = {}) {
    super(message, options);
    this.transient = options.transient ?? false;
  }
}

/** 401: no credentials, or the wrong ones. */
export class RegistryAuthError extends RegistryError {}

/** 404 on a manifest or a repository: `docker.io/library/nosuch: manifest unknown`. */
export class ManifestUnknownError extends RegistryError {}

/** A blob the registry does not have. */
export class BlobUnknownError extends RegistryError {}

/** 429. */
export class TooManyRequestsError extends RegistryError {}

/** Connection refused, DNS failure, TLS failure, dropped connection. */
export class RegistryUnreachableError extends RegistryError {}

/** No headers, or no body bytes, within the allowed time. */
export class RegistryTimeoutError extends RegistryUnreachableError {}

/**
 * No answer at all within the time allowed (connect or headers): a registry
 * that hangs. Tried again at most once (never on the first contact), so that
 * a silent registry fails in about a timeout, not in five.
 */
export class RegistrySilentError extends RegistryTimeoutError {}

/** A manifest that is not one tsbox can use (bad shape, too big, schema 1). */
export class ManifestInvalidError extends RegistryError {}

/** Bytes that do not hash to the digest they were asked for. */
export class BlobDigestMismatchError extends RegistryError {}

/** An index without an entry for the wanted platform. */
export class PlatformNotFoundError extends TsboxError {}

/** A platform string such as `linux/arm64/v8` that does not parse. */
export class BadPlatformError extends TsboxError {}

/** The first error of a distribution error body: `{"errors":[{"code","message"}]}`. */
export interface DistributionError {
  code: string;
  message: string;
}

export function parseDistributionErrors(body: string): DistributionError[] {
  try {
    const parsed = JSON.parse(body) as { errors?: unknown };
    if (!Array.isArray(parsed.errors)) return [];
    return parsed.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({ code: String(e.code ?? ''), message: String(e.message ?? '') }));
  } catch {
    return [];
  }
}

/** A short, printable version of an unexpected body: no control characters, at most 50 characters. */
export function summariseBody(body: string): string {
  const text = body.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return text.length > 50 ? `${text.slice(0, 50)}…` : text;
}
