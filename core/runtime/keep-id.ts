// `--userns=keep-id` without re-owning anything. podman chowns a copy of the
// image for keep-id (slow the first time, and disk for every uid); tsbox
// instead swaps two ids of the store's own mapping and leaves every other
// id where it is:
//
//   inside U (the user's uid)  -> what inside 0 is in the store's mapping (the user's own uid)
//   inside 0                   -> what inside U is in the store's mapping (a subordinate id)
//   any other inside id        -> unchanged
//
// So the layers, unpacked once with the store's mapping, serve keep-id
// containers as they are: the user's files (bind mounts, files the container
// writes) are the user's own uid on both sides. The cost: files that are root's
// in the image show as owned by U inside, and the image's few uid-U files as root's.
import type { IdRange, UserMapping } from '../userns/mapping.js';

function swapIds(ranges: IdRange[], own: number): IdRange[] {
  const out: IdRange[] = [];
  for (const r of ranges) {
    // split each range into the pieces before, at and after inside ids 0 and `own`
    const cuts = [r.inside, r.inside + r.count];
    for (const at of [0, 1, own, own + 1]) if (at > r.inside && at < r.inside + r.count) cuts.push(at);
    cuts.sort((a, b) => a - b);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const start = cuts[i]!;
      const count = cuts[i + 1]! - start;
      if (count === 0) continue;
      const outside = r.outside + (start - r.inside);
      const inside = start === 0 && count === 1 ? own : start === own && count === 1 ? 0 : start;
      out.push({ inside, outside, count });
    }
  }
  return out.sort((a, b) => a.inside - b.inside);
}

/** The keep-id mapping derived from the store's mapping (see above). */
export function keepIdMapping(mapping: UserMapping, own: { uid: number; gid: number }): UserMapping {
  if (own.uid === 0 && own.gid === 0) return mapping;
  return { ...mapping, uids: swapIds(mapping.uids, own.uid), gids: swapIds(mapping.gids, own.gid) };
}
