// Errors met while unpacking a layer. The caller discards the half-written
// destination on any of them.
import { TsboxError } from '../errors.js';

/** An entry that would write outside the layer or through a symlink. */
export class LayerUnsafeError extends TsboxError {}

/** A layer that is not a readable (compressed) tar stream. */
export class LayerCorruptError extends TsboxError {}
