// What tsbox says when clipanion cannot parse a command line: one `Error:`
// line naming the mistake, the nearest right command or flag when one is
// near (suggest.ts), and where to read more; exit code 125 (main.ts).
import type { CommandClass } from 'clipanion';
import { nearest } from './suggest.js';

/** The global options (global-options.ts, main.ts), for suggestions. */
const GLOBAL_FLAGS = ['log-level', 'no-color', 'help', 'version'];

/** The first words of multi-word commands: `volume`, `container`, `image`, `system`. */
export function commandGroups(all: readonly CommandClass[]): Set<string> {
  return new Set(all.flatMap((command) => command.paths ?? []).filter((path) => path.length > 1).map((path) => path[0]!));
}

/** The command whose path starts argv, the longest such. */
function commandAt(argv: readonly string[], all: readonly CommandClass[]): { command: CommandClass; path: string[] } | undefined {
  let found: { command: CommandClass; path: string[] } | undefined;
  for (const command of all) {
    for (const path of command.paths ?? []) {
      if (path.length > 0 && path.every((word, i) => argv[i] === word) && path.length > (found?.path.length ?? 0)) found = { command, path };
    }
  }
  return found;
}

/**
 * What to print for a command line clipanion cannot parse: one `Error:`
 * line, with the nearest right command or flag when there is one, and where
 * to read more. Never clipanion's list of every command.
 */
export function parseErrorText(err: Error, argv: readonly string[], usageOf: (command: CommandClass) => string, all: readonly CommandClass[]): string {
  const target = commandAt(argv, all);
  if (!target) return unknownCommandText(argv, all);
  const name = `tsbox ${target.path.join(' ')}`;
  const reason = err.message.replace(/^(Unknown Syntax Error|Usage Error): /, '').split('\n')[0]!.trim();
  const unsupported = reason.match(/^Unsupported option name \("(.*)"\)/);
  if (unsupported) {
    const flag = unsupported[1]!;
    const names = optionNames(usageOf(target.command));
    const guess = flag.startsWith('--') ? nearest(flag.slice(2), names.filter((n) => n.startsWith('--')).map((n) => n.slice(2))) : undefined;
    return `Error: unknown flag: ${flag}${guess ? ` (did you mean --${guess}?)` : ''}\nSee '${name} --help'\n`;
  }
  const text = reason.replace(/\.$/, '');
  return `Error: ${text.charAt(0).toLowerCase()}${text.slice(1)}\nSee '${name} --help'\n`;
}

/** The option names in a clipanion usage line: `[-n,--name #0]` gives -n and --name. */
export function optionNames(usage: string): string[] {
  return [...usage.matchAll(/(?<=[[,])(--?[A-Za-z0-9][A-Za-z0-9-]*)/g)].map((m) => m[1]!);
}

/** `tsbox rn`: podman's error, with the nearest command; `tsbox volume`: the subcommands there are. */
export function unknownCommandText(argv: readonly string[], all: readonly CommandClass[]): string {
  const paths = all.flatMap((command) => command.paths ?? []).filter((path) => path.length > 0);
  const first = argv[0] ?? '';
  if (first.startsWith('-')) {
    // before any command only the global options are known
    const flag = first.replace(/=.*/, '');
    const guess = flag.startsWith('--') ? nearest(flag.slice(2), GLOBAL_FLAGS) : undefined;
    return `Error: unknown flag: ${flag}${guess ? ` (did you mean --${guess}?)` : ''}\nTry 'tsbox --help' for more information\n`;
  }
  const groups = commandGroups(all);
  if (groups.has(first)) {
    // each command once, by its first name in the group (`volume ls`, not also `volume list`)
    const named = all.map((command) => command.paths?.find((p) => p.length > 1 && p[0] === first)).filter((p): p is string[] => p !== undefined);
    const subcommands = [...new Set(named.map((p) => p.slice(1).join(' ')))].sort();
    const second = argv[1];
    if (second === undefined || second.startsWith('-')) {
      return `Error: missing command 'tsbox ${first} COMMAND': one of ${subcommands.join(', ')}\nTry 'tsbox ${first} --help' for more information\n`;
    }
    const guess = nearest(second, subcommands);
    return `Error: unrecognized command \`tsbox ${first} ${second}\`${guess ? ` (did you mean \`tsbox ${first} ${guess}\`?)` : ''}\nTry 'tsbox --help' for more information\n`;
  }
  const guess = nearest(first, [...new Set(paths.map((p) => p[0]!)), 'help']);
  return `Error: unrecognized command \`tsbox ${first}\`${guess ? ` (did you mean \`tsbox ${guess}\`?)` : ''}\nTry 'tsbox --help' for more information\n`;
}
