// Who owns a lock or a work-in-progress entry: a pid plus that process's start
// time, so that a recycled pid is never mistaken for the original owner
// (crun's status.c does the same).
import { readFileSync } from 'node:fs';

/** Field 22 of /proc/PID/stat (clock ticks since boot), or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19]. A zombie is as good as dead.
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return rest[19];
}

let ownStartTime: string | undefined;

export interface Owner {
  pid: number;
  startTime: string;
}

export function currentOwner(): Owner {
  ownStartTime ??= processStartTime(process.pid) ?? '0';
  return { pid: process.pid, startTime: ownStartTime };
}

/** `<pid>.<start time>`: the tail of every work-in-progress name. */
export function ownerSuffix(): string {
  const { pid, startTime } = currentOwner();
  return `${pid}.${startTime}`;
}

/** True while the process that made `owner` still runs (same pid, same start time). */
export function isOwnerAlive(owner: Owner): boolean {
  if (owner.pid === process.pid) return owner.startTime === currentOwner().startTime;
  return processStartTime(owner.pid) === owner.startTime;
}

/** Reads the owner from a name ending in `.<pid>.<start time>`; undefined for other names. */
export function ownerFromName(name: string): Owner | undefined {
  const match = /\.(\d+)\.(\d+)$/.exec(name);
  if (!match) return undefined;
  return { pid: Number(match[1]), startTime: match[2]! };
}
