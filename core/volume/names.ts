// Volume names, as podman allows them (libpod/define.NameRegex).
import { TsboxError } from '../errors.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class InvalidVolumeNameError extends TsboxError {}

export function isValidVolumeName(name: string): boolean {
  return NAME.test(name);
}

/** Throws podman's error for a name it would refuse (`src/dir`, `-x`, `.x`, ``). */
export function checkVolumeName(name: string): void {
  if (!isValidVolumeName(name)) {
    throw new InvalidVolumeNameError('running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument');
  }
}
