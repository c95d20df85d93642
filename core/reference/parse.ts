// Image references: the grammar of distribution's reference package, normalised
// the way docker and podman normalise what a user types ('alpine' ->
// docker.io/library/alpine:latest). Every error says "invalid reference format"
// first, as podman does, and then the reason.
import { TsboxError } from '../errors.js';

export interface Reference {
  /** host[:port], e.g. 'docker.io', 'localhost:5000', '[::1]:5000'. */
  registry: string;
  /** The path below the registry, e.g. 'library/alpine'. */
  repository: string;
  tag?: string;
  /** 'sha256:<hex>'; when a reference has both, the digest is what gets pulled. */
  digest?: string;
}

export interface Digest {
  algorithm: 'sha256' | 'sha384' | 'sha512';
  hex: string;
}

export class BadReferenceError extends TsboxError {
  constructor(reason?: string) {
    super(reason ? `invalid reference format: ${reason}` : 'invalid reference format');
  }
}

export class BadDigestError extends TsboxError {
  constructor(input: string, reason: string) {
    super(`invalid digest ${JSON.stringify(input)}: ${reason}`);
  }
}

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** Docker's old name for its registry; references written with it mean docker.io. */
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
/** Single-component docker.io repositories live under library/. */
const OFFICIAL_NAMESPACE = 'library';
const NAME_MAX_LENGTH = 255;
const TAG_MAX_LENGTH = 128;

// Path components: lowercase alphanumerics joined by '.', '_', '__' or runs of '-'.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
// A host is DNS-like labels (case-insensitive, as hosts are) or a bracketed IPv6 address.
const HOST_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const REGISTRY = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]*$/;
const DIGEST_SHAPE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const DIGEST_HEX_LENGTH: Record<Digest['algorithm'], number> = { sha256: 64, sha384: 96, sha512: 128 };
// A bare 64-hex string is an image id, never a repository name (docker refuses it too).
const IMAGE_ID = /^[a-f0-9]{64}$/;

/** Validates `algorithm:hex` the way go-digest does: known algorithm, exact length, lowercase hex. */
export function parseDigest(input: string): Digest {
  const colon = input.indexOf(':');
  if (colon <= 0 || colon === input.length - 1) throw new BadDigestError(input, 'invalid checksum digest format');
  const algorithm = input.slice(0, colon);
  const hex = input.slice(colon + 1);
  if (!Object.hasOwn(DIGEST_HEX_LENGTH, algorithm)) throw new BadDigestError(input, 'unsupported digest algorithm');
  const known = algorithm as Digest['algorithm'];
  if (hex.length !== DIGEST_HEX_LENGTH[known]) throw new BadDigestError(input, 'invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw new BadDigestError(input, 'invalid checksum digest format');
  return { algorithm: known, hex };
}

export function isDigest(input: string): boolean {
  try {
    parseDigest(input);
    return true;
  } catch {
    return false;
  }
}

/**
 * Splits `name[:tag][@digest]`; the tag's colon is the last one after the
 * last '/', so a registry port is never taken for a tag.
 */
export function splitReference(input: string): { name: string; tag?: string; digest?: string } {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { name: rest, tag, digest };
}

/** host[:port] as the reference grammar allows it (registries.conf checks its search list with this). */
export function isValidRegistry(host: string): boolean {
  return REGISTRY.test(host);
}

/**
 * True when the first path part names a host (docker's rule): it has a '.' or
 * a ':', is 'localhost', or has uppercase letters (hosts are case-insensitive,
 * repositories are not).
 */
function looksLikeRegistry(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first;
}

/** No registry in what the user typed: it is resolved through the search registries or an alias. */
export function isShortName(input: string): boolean {
  const { name } = splitReference(input);
  const slash = name.indexOf('/');
  return slash === -1 || !looksLikeRegistry(name.slice(0, slash));
}

function checkDigest(digest: string): void {
  if (!DIGEST_SHAPE.test(digest)) throw new BadReferenceError('invalid digest format');
  try {
    parseDigest(digest);
  } catch (err) {
    // go-digest's own reason, without repeating the digest the user just typed
    const reason = err instanceof BadDigestError ? err.message.replace(/^invalid digest ".*": /, '') : String(err);
    throw new BadReferenceError(reason);
  }
}

function checkTag(tag: string): void {
  if (tag === '') throw new BadReferenceError('tag must not be empty');
  if (tag.length > TAG_MAX_LENGTH) throw new BadReferenceError(`tag must be at most ${TAG_MAX_LENGTH} characters`);
  if (!TAG.test(tag)) {
    throw new BadReferenceError(`invalid tag ${JSON.stringify(tag)}: letters, digits, '_', '.' and '-' only, not starting with '.' or '-'`);
  }
}

export function checkRepository(repository: string): void {
  if (repository.toLowerCase() !== repository) throw new BadReferenceError('repository name must be lowercase');
  for (const component of repository.split('/')) {
    if (component === '') throw new BadReferenceError('repository name has an empty path component');
    if (!PATH_COMPONENT.test(component)) {
      throw new BadReferenceError(
        `invalid repository path component ${JSON.stringify(component)}: lowercase letters and digits, separated by '.', '_', '__' or '-'`,
      );
    }
  }
}

/** Parses and normalises what a user typed; throws BadReferenceError on anything docker would refuse. */
export function parseReference(input: string): Reference {
  if (input === '') throw new BadReferenceError('repository name must have at least one component');
  if (IMAGE_ID.test(input)) {
    throw new BadReferenceError(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  const { name, tag, digest } = splitReference(input);
  if (name === '') throw new BadReferenceError('repository name must have at least one component');

  let registry = DEFAULT_REGISTRY;
  let repository = name;
  const slash = name.indexOf('/');
  if (slash !== -1) {
    const first = name.slice(0, slash);
    if (looksLikeRegistry(first)) {
      registry = first;
      repository = name.slice(slash + 1);
    }
  }
  if (!isValidRegistry(registry)) throw new BadReferenceError(`invalid registry ${JSON.stringify(registry)}`);
  if (registry === LEGACY_DEFAULT_REGISTRY) registry = DEFAULT_REGISTRY;
  checkRepository(repository);
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `${OFFICIAL_NAMESPACE}/${repository}`;
  if (registry.length + 1 + repository.length > NAME_MAX_LENGTH) {
    throw new BadReferenceError(`repository name must not be more than ${NAME_MAX_LENGTH} characters`);
  }

  const ref: Reference = { registry, repository };
  if (tag !== undefined) {
    checkTag(tag);
    ref.tag = tag;
  }
  if (digest !== undefined) {
    checkDigest(digest);
    ref.digest = digest;
  }
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = DEFAULT_TAG;
  return ref;
}

/** 'registry/repository[:tag][@digest]', the full form podman prints. */
export function formatReference(ref: Reference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** 'registry/repository' without tag or digest: the name registries.conf prefixes match against. */
export function referenceName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The same repository path, tag and digest on another registry (a mirror, a search registry). */
export function withRegistry(ref: Reference, registry: string): Reference {
  return { ...ref, registry };
}

/** The short form docker prints: 'alpine:latest' for docker.io/library/alpine:latest. */
export function familiarName(ref: Reference): string {
  let name = referenceName(ref);
  if (ref.registry === DEFAULT_REGISTRY) {
    const parts = ref.repository.split('/');
    name = parts.length === 2 && parts[0] === OFFICIAL_NAMESPACE ? parts[1]! : ref.repository;
  }
  if (ref.tag !== undefined) name += `:${ref.tag}`;
  if (ref.digest !== undefined) name += `@${ref.digest}`;
  return name;
}
