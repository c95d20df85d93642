// Image names: parse, normalise, format; see docs/internals.md.
export {
  BadDigestError,
  BadReferenceError,
  DEFAULT_REGISTRY,
  DEFAULT_TAG,
  familiarName,
  formatReference,
  isDigest,
  isShortName,
  parseDigest,
  parseReference,
  referenceName,
  withRegistry,
} from './parse.js';
export type { Digest, Reference } from './parse.js';
