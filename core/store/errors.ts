// The store's errors, worded like podman's (containers/storage).
import { TsboxError } from '../errors.js';

export class ImageNotFoundError extends TsboxError {
  constructor(readonly nameOrId: string) {
    super(`${nameOrId}: image not known`);
  }
}

export class LayerNotFoundError extends TsboxError {
  constructor(readonly chainId: string) {
    super(`${chainId}: layer not known`);
  }
}

export class BlobNotFoundError extends TsboxError {
  constructor(readonly digest: string) {
    super(`${digest}: blob not known`);
  }
}

export class CorruptBlobError extends TsboxError {}

export class AmbiguousImageError extends TsboxError {}

/** storage.json records another id mapping than the one in force now. */
export class MappingChangedError extends TsboxError {}
