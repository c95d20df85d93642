// Where tsbox keeps its files, following the XDG base directory spec as podman does.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { statSync } from 'node:fs';

function home(): string {
  return process.env.HOME || homedir();
}

export function dataHome(): string {
  return process.env.XDG_DATA_HOME || join(home(), '.local', 'share');
}

export function configHome(): string {
  return process.env.XDG_CONFIG_HOME || join(home(), '.config');
}

/** The image and container store: `$XDG_DATA_HOME/tsbox`, or `$TSBOX_ROOT` when set (tests, scripts). */
export function storeRoot(): string {
  return process.env.TSBOX_ROOT || join(dataHome(), 'tsbox');
}

/**
 * `$XDG_RUNTIME_DIR` when it is set and ours; otherwise a private fallback
 * under /tmp (as under `su` or `sudo`, where it is unset or belongs to someone else).
 */
export function runtimeDir(): string {
  const uid = process.getuid?.() ?? 0;
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg) {
    try {
      if (statSync(xdg).uid === uid) return xdg;
    } catch {
      // unset, gone or not ours: fall through to the private fallback
    }
  }
  return join('/tmp', `tsbox-run-${uid}`);
}
