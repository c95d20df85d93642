// Which overlay mounts a container's root (docs/internals.md, "The root:
// kernel overlay or fuse-overlayfs"): the kernel's overlayfs in the user
// namespace (Linux 5.11+, `userxattr`), or fuse-overlayfs where the kernel
// cannot. TSBOX_OVERLAY=native|fuse forces one; TSBOX_FUSE_OVERLAYFS names
// the program (default: fuse-overlayfs on $PATH).
//
// fuse-overlayfs reads the layers as the kernel stores them (0:0 whiteouts,
// user.overlay.opaque) but writes opaque directories its own way
// (user.fuseoverlayfs.opaque and a .wh..wh..opq file), which the kernel's
// overlay does not read. So a container whose upper/ fuse-overlayfs has
// written is mounted with fuse-overlayfs from then on: the marker file
// containers/<id>/fuse-overlayfs says so.
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { TsboxError } from '../errors.js';
import type { Reporter } from '../progress.js';
import { findProgram } from '../network/mode.js';

/** native: the kernel's overlay; fuse: fuse-overlayfs; native-or-fuse: the kernel's, fuse-overlayfs if it refuses. */
export interface OverlayPlan {
  mode: 'native' | 'fuse' | 'native-or-fuse';
  /** the program, for fuse and native-or-fuse */
  fuseOverlayfs?: string;
}

export interface OverlayHost {
  kernel: string;
  /** the kernel mounts overlayfs in a user namespace */
  nativeInUserns: boolean;
  /** the fuse-overlayfs program, when there is one */
  fuseOverlayfs: string | undefined;
}

export class OverlayUnavailableError extends TsboxError {}

const FUSE_MARKER = 'fuse-overlayfs';
const INSTALL = 'install the fuse-overlayfs package';

/** Linux's version as [major, minor] from a release string such as "6.1.0-18-amd64". */
export function kernelVersion(releaseText: string): [number, number] {
  const m = releaseText.match(/^(\d+)\.(\d+)/);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** Overlayfs can be mounted by root in a user namespace since Linux 5.11 (Ubuntu patched it in earlier). */
export function nativeOverlayInUserns(releaseText: string, ubuntuPermit: string | undefined): boolean {
  const [major, minor] = kernelVersion(releaseText);
  return major > 5 || (major === 5 && minor >= 11) || ubuntuPermit?.trim() === 'Y';
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What this host offers; reads a file only on kernels older than 5.11. */
export function overlayHost(env: NodeJS.ProcessEnv = process.env): OverlayHost {
  const kernel = release();
  const [major, minor] = kernelVersion(kernel);
  const recent = major > 5 || (major === 5 && minor >= 11);
  const nativeInUserns = recent || nativeOverlayInUserns(kernel, readOrUndefined('/sys/module/overlay/parameters/permit_mounts_in_userns'));
  const named = env.TSBOX_FUSE_OVERLAYFS;
  const fuseOverlayfs = named ? (isAbsolute(named) && isExecutable(named) ? named : undefined) : findProgram('fuse-overlayfs', env.PATH ?? '');
  return { kernel, nativeInUserns, fuseOverlayfs };
}

/**
 * The overlay for a container (pure): `setting` is TSBOX_OVERLAY, `writtenByFuse`
 * whether fuse-overlayfs has written its upper/ before. Throws
 * OverlayUnavailableError (exit 125) with what to install or upgrade.
 */
export function planOverlay(setting: string | undefined, host: OverlayHost, writtenByFuse = false): OverlayPlan {
  const fuse = host.fuseOverlayfs;
  if (writtenByFuse) {
    if (setting === 'native') throw new OverlayUnavailableError('TSBOX_OVERLAY=native, but fuse-overlayfs has written this container\'s files, which the kernel\'s overlay cannot read right', { hint: 'unset TSBOX_OVERLAY' });
    if (!fuse) throw new OverlayUnavailableError('fuse-overlayfs has written this container\'s files, and it is not installed', { hint: INSTALL });
    return { mode: 'fuse', fuseOverlayfs: fuse };
  }
  switch (setting ?? '') {
    case 'native':
      return { mode: 'native' };
    case 'fuse':
      if (!fuse) throw new OverlayUnavailableError('TSBOX_OVERLAY=fuse, but fuse-overlayfs is not installed', { hint: INSTALL });
      return { mode: 'fuse', fuseOverlayfs: fuse };
    case '':
      if (host.nativeInUserns) return fuse ? { mode: 'native-or-fuse', fuseOverlayfs: fuse } : { mode: 'native' };
      if (fuse) return { mode: 'fuse', fuseOverlayfs: fuse };
      throw new OverlayUnavailableError(`Linux ${host.kernel} cannot mount overlayfs in a user namespace and fuse-overlayfs is not installed`, {
        hint: `${INSTALL}, or upgrade to Linux 5.11 or later`,
      });
    default:
      throw new OverlayUnavailableError(`TSBOX_OVERLAY=${setting}: expected native or fuse`);
  }
}

/** The helper's option for the plan (after --overlay). */
export function overlayHelperArgs(plan: OverlayPlan | undefined): string[] {
  if (!plan || plan.mode === 'native') return [];
  return [plan.mode === 'fuse' ? '--fuse-overlayfs' : '--fuse-overlayfs-fallback', plan.fuseOverlayfs!];
}

/** Whether fuse-overlayfs has written the upper/ of the container in `dir`. */
export function writtenByFuse(dir: string): boolean {
  return existsSync(join(dir, FUSE_MARKER));
}

/** The plan for the container in `dir` (containers/<id>), from its marker, TSBOX_OVERLAY and the host. */
export function containerOverlay(dir: string, env: NodeJS.ProcessEnv = process.env): OverlayPlan {
  return planOverlay(env.TSBOX_OVERLAY, overlayHost(env), writtenByFuse(dir));
}

/** Marks the container in `dir` as fuse-overlayfs's before the helper mounts it so. */
export function markFuse(dir: string, plan: OverlayPlan): void {
  if (plan.mode === 'fuse' && !writtenByFuse(dir)) writeFileSync(join(dir, FUSE_MARKER), '');
}

/** The helper's `overlay` event: the kernel refused (errno) and fuse-overlayfs mounts the root. */
export function onFuseFallback(dir: string, errno: string | undefined, reporter: Reporter): void {
  writeFileSync(join(dir, FUSE_MARKER), '');
  reporter.warn(`the kernel refused to mount overlayfs in the user namespace (${errno || 'unknown error'}): using fuse-overlayfs`);
}
