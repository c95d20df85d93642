// The one place where a missing XDG_RUNTIME_DIR matters enough to say so:
// a detached container's monitor must outlive the login session, and with no
// user session (su, sudo, cron) nothing keeps it alive or cleans up after it.
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { runtimeDir } from '../paths.js';

export interface LingerInputs {
  /** $XDG_RUNTIME_DIR as set (undefined when unset) */
  xdgRuntimeDir: string | undefined;
  /** what runtimeDir() chose */
  runtimeDir: string;
  user: string;
  /** systemd keeps this user's services after logout (/var/lib/systemd/linger/USER) */
  lingering: boolean;
}

/** The warning for `run -d` and `start` without a runtime dir of our own; undefined when there is nothing to say. */
export function detachedRuntimeWarning(inputs: LingerInputs): string | undefined {
  if (inputs.runtimeDir === inputs.xdgRuntimeDir || inputs.lingering) return undefined;
  const why = inputs.xdgRuntimeDir ? `XDG_RUNTIME_DIR (${inputs.xdgRuntimeDir}) is not yours` : 'XDG_RUNTIME_DIR is not set';
  return `${why} (as under su or sudo): using ${inputs.runtimeDir}; the container may be stopped when this session ends: run loginctl enable-linger ${inputs.user}, or log in as ${inputs.user} directly`;
}

export function currentDetachedRuntimeWarning(): string | undefined {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = String(process.getuid?.() ?? '');
  }
  return detachedRuntimeWarning({
    xdgRuntimeDir: process.env.XDG_RUNTIME_DIR,
    runtimeDir: runtimeDir(),
    user,
    lingering: existsSync(`/var/lib/systemd/linger/${user}`),
  });
}
