// Which commands clipanion must know for a command line.
import type { CommandClass } from 'clipanion';

/**
 * The commands whose path starts the arguments (`volume ls` for
 * `volume ls -q`); all of them when none does (help, a typo: the listing and
 * the suggestions need them all).
 */
export function commandsFor(argv: readonly string[], all: readonly CommandClass[]): CommandClass[] {
  const matching = all.filter((command) => (command.paths ?? []).some((path) => path.length > 0 && path.every((word, i) => argv[i] === word)));
  return matching.length > 0 ? matching : [...all];
}
