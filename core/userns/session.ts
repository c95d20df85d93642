// Commands that write layers (pull, rmi, ...) run inside the user's mapped
// namespace: the CLI process re-executes itself there through the helper.
// The mapping is computed once, outside (inside, we are uid 0 and could not
// tell whose ranges apply), and handed to the inner process in the environment.
import type { Reporter } from '../progress.js';
import { TsboxError } from '../errors.js';
import { helperPath, isInUserNamespace, reexecInUserNamespace } from './helper.js';
import { currentMapping, type UserMapping } from './mapping.js';

const MAPPING_ENV = '_TSBOX_MAPPING';
/** Set by a tsbox that has warned about the id mapping for the tsbox it starts (run's pull). */
export const MAPPING_WARNED_ENV = '_TSBOX_MAPPING_WARNED';

export interface NamespaceSession {
  /** The user's mapping as computed outside the namespace. */
  mapping: UserMapping;
  /** Path of tsbox-helper. */
  helper: string;
}

/**
 * Runs `body` inside the user namespace: outside, re-executes this command
 * there and resolves to its exit code; inside, calls `body` with the mapping.
 */
export async function inUserNamespace(reporter: Reporter, body: (session: NamespaceSession) => Promise<number>): Promise<number> {
  if (isInUserNamespace()) {
    const text = process.env[MAPPING_ENV];
    if (!text) throw new TsboxError('internal error: tsbox runs in a user namespace without its mapping');
    delete process.env[MAPPING_ENV];
    return body({ mapping: JSON.parse(text) as UserMapping, helper: helperPath() });
  }
  const mapping = currentMapping();
  if (mapping.warning && !process.env[MAPPING_WARNED_ENV]) reporter.warn(mapping.warning);
  process.env[MAPPING_ENV] = JSON.stringify(mapping);
  try {
    return await reexecInUserNamespace(mapping);
  } finally {
    delete process.env[MAPPING_ENV];
  }
}
