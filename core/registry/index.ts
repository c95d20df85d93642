// The registry client's public surface (docs/internals.md, "Registry client").
export { RegistryClient, registryHost, type RegistryClientOptions, type FetchBlobOptions } from './client.js';
export { type Credentials, parseChallenges, pullScope } from './auth.js';
export { verifyDigest, sha256Digest } from './verify.js';
export { parseManifest, isDigest, MAX_MANIFEST_BYTES, type FetchedManifest, type Descriptor, type ImageManifest, type ImageIndex } from './manifest.js';
export { selectPlatform, hostPlatform, parsePlatform, formatPlatform, type Platform } from './platform.js';
export * from './errors.js';
export * from './media-types.js';
