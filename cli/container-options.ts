// Option values the container commands share.
import { UsageError } from 'clipanion';

/** A whole number of seconds (-t/--time); podman also takes -1 for "wait forever". */
export function parseSeconds(flag: string, value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`invalid argument "${value}" for "${flag}" flag: not a whole number of seconds`);
  const seconds = Number(value);
  if (seconds < -1) throw new UsageError(`invalid argument "${value}" for "${flag}" flag: must be -1 or more`);
  return seconds === -1 ? Infinity : seconds;
}

/** podman's duration flags (`250ms`, `1s`, `2m`), a bare number being milliseconds. */
export function parseDurationMs(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new UsageError(`invalid argument "${value}" for "${flag}" flag: use a duration such as 250ms or 1s`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms']!;
  return Number(match[1]) * factor;
}
