// The walk behind `tsbox diff`, a separate node process run as root in the
// store's user namespace: upper/ holds directories of mode 0700 owned by the
// container's users, which only root there may read. It compares the
// writable layer with the image's layers and prints one JSON line per
// change, {"kind":"A"|"C"|"D","path":"/..."}, in no particular order.
//
//   node diff-worker.js [--fuse-overlayfs] UPPER LOWER... (lowers top first)
//
// An entry of upper/ is D when it is a whiteout (a 0:0 character device),
// C when the path exists in a layer below (a directory that is only there
// because something below it changed is C too), A otherwise. Lower layers
// are looked at with lstat only, a directory at a time, never following a
// symlink of theirs: a path below a lower symlink does not exist there.
//
// --fuse-overlayfs: fuse-overlayfs wrote upper/ (core/runtime/overlay.ts).
// It refuses names that start with .wh. to the container, and keeps its own
// records under them: .wh..wh..opq (a regular file) makes its directory
// opaque, .wh.NAME (a regular file) whites out NAME where it could not make
// a 0:0 device, and other .wh.* entries (a 0:0 .wh..opq beside the opaque
// marker) are its bookkeeping, no change of the container's.
import { lstatSync, readdirSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function report(kind: 'A' | 'C' | 'D', path: string): void {
  writeSync(1, `${JSON.stringify({ kind, path })}\n`);
}

/**
 * `lowers`: the lower directories (top first) where `rel` is a real directory,
 * cut at the first layer that whites it out or has something else there.
 */
function walk(upper: string, rel: string, lowers: string[]): void {
  for (const name of readdirSync(join(upper, rel)).sort()) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(join(upper, childRel));
    const path = `/${childRel}`;
    if (fuseOverlayfs && name.startsWith(WH)) {
      if (st.isFile() && name !== OPAQUE) report('D', `/${rel === '' ? '' : `${rel}/`}${name.slice(WH.length)}`);
      continue;
    }
    if (isWhiteout(st)) {
      report('D', path);
      continue;
    }
    let below = false;
    const dirsBelow: string[] = [];
    for (const lower of lowers) {
      const lst = lstatOrNull(join(lower, childRel));
      if (lst === null) continue;
      if (isWhiteout(lst)) break; // hidden from here down
      below = true;
      if (!lst.isDirectory()) break;
      dirsBelow.push(lower);
    }
    report(below ? 'C' : 'A', path);
    const opaque = fuseOverlayfs && st.isDirectory() && lstatOrNull(join(upper, childRel, OPAQUE))?.isFile() === true;
    if (st.isDirectory()) walk(upper, childRel, opaque ? [] : dirsBelow);
  }
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const args = process.argv.slice(2);
const fuseOverlayfs = args[0] === '--fuse-overlayfs';
const [upper, ...lowers] = fuseOverlayfs ? args.slice(1) : args;
try {
  walk(upper!, '', lowers);
  process.exit(0);
} catch (err) {
  writeSync(2, `${(err as Error).message}\n`);
  process.exit(1);
}
