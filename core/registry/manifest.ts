// Manifests and indexes: checking their shape and turning bytes into typed objects.
import { ManifestInvalidError } from './errors.js';
import { isIndexType, isManifestType, isSchema1Type, OCI_INDEX, OCI_MANIFEST } from './media-types.js';
import type { Platform } from './platform.js';

/** Manifests larger than this are refused (containers/image uses the same bound). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A manifest as the registry sent it. */
export interface FetchedManifest {
  /** From the Content-Type header, or the body's own mediaType when the header is generic. */
  mediaType: string;
  /** `sha256:` of `bytes`. */
  digest: string;
  bytes: Buffer;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[] };
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  digest: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  digest: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;

export function isDigest(text: string): boolean {
  return DIGEST.test(text);
}

export function schema1Error(what: string): ManifestInvalidError {
  return new ManifestInvalidError(
    `${what} uses the obsolete manifest schema 1, which tsbox does not support: ask the image's maintainer to push it again with a current client`,
  );
}

/** Validates the shape of a fetched manifest or index and returns it typed. */
export function parseManifest(fetched: FetchedManifest): ImageManifest | ImageIndex {
  const what = `manifest ${fetched.digest}`;
  const invalid = (why: string) => new ManifestInvalidError(`invalid ${what}: ${why}`);
  if (isSchema1Type(fetched.mediaType)) throw schema1Error(what);

  let body: unknown;
  try {
    body = JSON.parse(fetched.bytes.toString('utf8'));
  } catch {
    throw invalid('not JSON');
  }
  if (!isObject(body)) throw invalid('not a JSON object');
  if (body.schemaVersion === 1) throw schema1Error(what);
  if (body.schemaVersion !== 2) throw invalid(`unsupported schemaVersion ${JSON.stringify(body.schemaVersion)}`);

  // The body's mediaType wins over a generic header (application/json); when both
  // are specific they must agree, or the bytes could be read as the wrong kind.
  const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (declared !== undefined && isSchema1Type(declared)) throw schema1Error(what);
  let mediaType = fetched.mediaType;
  if (!isManifestType(mediaType) && !isIndexType(mediaType)) {
    mediaType = declared ?? (Array.isArray(body.manifests) ? OCI_INDEX : OCI_MANIFEST);
  } else if (declared !== undefined && declared !== mediaType) {
    throw invalid(`its mediaType ${declared} differs from the registry's ${mediaType}`);
  }

  const annotations = body.annotations === undefined ? undefined : stringMap(body.annotations, 'annotations', invalid);
  if (isIndexType(mediaType)) {
    if (!Array.isArray(body.manifests)) throw invalid('an index needs a "manifests" array');
    const manifests = body.manifests.map((d, i) => parseDescriptor(d, `manifests[${i}]`, invalid));
    return { kind: 'index', mediaType, digest: fetched.digest, manifests, ...(annotations && { annotations }) };
  }
  if (isManifestType(mediaType)) {
    if (!Array.isArray(body.layers)) throw invalid('a manifest needs a "layers" array');
    const config = parseDescriptor(body.config, 'config', invalid);
    const layers = body.layers.map((d, i) => parseDescriptor(d, `layers[${i}]`, invalid));
    return { kind: 'manifest', mediaType, digest: fetched.digest, config, layers, ...(annotations && { annotations }) };
  }
  throw invalid(`unsupported media type ${mediaType}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, where: string, invalid: (why: string) => Error): Record<string, string> {
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) throw invalid(`${where} must map strings to strings`);
  return value as Record<string, string>;
}

function parseDescriptor(value: unknown, where: string, invalid: (why: string) => Error): Descriptor {
  if (!isObject(value)) throw invalid(`${where} is not an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where} has no mediaType`);
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw invalid(`${where} has a malformed digest`);
  if (digest.startsWith('sha256:') && !SHA256.test(digest)) throw invalid(`${where} has a malformed sha256 digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where} has an invalid size`);
  const descriptor: Descriptor = { mediaType, digest, size };
  if (value.urls !== undefined) {
    if (!Array.isArray(value.urls) || value.urls.some((u) => typeof u !== 'string')) throw invalid(`${where}.urls must be strings`);
    descriptor.urls = value.urls as string[];
  }
  if (value.annotations !== undefined) descriptor.annotations = stringMap(value.annotations, `${where}.annotations`, invalid);
  if (value.platform !== undefined) {
    const p = value.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw invalid(`${where}.platform needs os and architecture`);
    }
    if (p.variant !== undefined && typeof p.variant !== 'string') throw invalid(`${where}.platform.variant must be a string`);
    descriptor.platform = p as unknown as Descriptor['platform'];
  }
  return descriptor;
}
