// `tsbox --help`: podman's overview (usage, the commands with one line each,
// the global options), the commands grouped by their usage category. Each
// command's own help is clipanion's, from its `static usage`.
import type { CommandClass } from 'clipanion';
import type { Style } from './color.js';

/** The global options main.ts takes before the command (see global-options.ts), for the overview. */
export const GLOBAL_OPTIONS: Array<[string, string]> = [
  ['    --log-level string', 'Log messages at and above this level: debug, info, warn, error (default "warn")'],
  ['    --no-color', 'Do not colour the output (also: NO_COLOR set to anything)'],
  ['-h, --help', 'Help for tsbox'],
  ['-v, --version', 'Print the version; with --verbose, the helper and the host features too'],
];

/** Category order in the overview; others follow in alphabetical order. */
const CATEGORY_ORDER = ['Containers', 'Images', 'Volumes', 'Registries', 'System'];

/** What a command is called in the overview: its first path (`volume ls`). */
function commandName(command: CommandClass): string | undefined {
  const path = command.paths?.[0];
  return path && path.length > 0 ? path.join(' ') : undefined;
}

function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Commands run by tsbox itself (a container's monitor), not by people: left out of the overview. */
const INTERNAL = new Set(['container cleanup']);

export function overview(commands: readonly CommandClass[], style: Style): string {
  const groups = new Map<string, Array<[string, string]>>();
  for (const command of commands) {
    const name = commandName(command);
    if (!name || INTERNAL.has(name) || !command.usage) continue;
    const category = command.usage.category ?? 'Other';
    if (!groups.has(category)) groups.set(category, []);
    groups.get(category)!.push([name, sentence(command.usage.description ?? '')]);
  }
  const order = [...groups.keys()].sort((a, b) => {
    const ia = CATEGORY_ORDER.indexOf(a);
    const ib = CATEGORY_ORDER.indexOf(b);
    return (ia < 0 ? CATEGORY_ORDER.length : ia) - (ib < 0 ? CATEGORY_ORDER.length : ib) || a.localeCompare(b);
  });
  const width = Math.max(...[...groups.values()].flat().map(([name]) => name.length)) + 2;
  let text = 'Manage containers, images and volumes: rootless, without a daemon, as podman does\n\n';
  text += `${style.bold('Usage:')}\n  tsbox [options] [command]\n\n`;
  for (const category of order) {
    text += `${style.bold(`${category}:`)}\n`;
    const rows = groups.get(category)!.sort(([a], [b]) => a.localeCompare(b));
    for (const [name, description] of rows) text += `  ${name.padEnd(width)}${description}\n`;
    text += '\n';
  }
  const optionWidth = Math.max(...GLOBAL_OPTIONS.map(([flag]) => flag.length)) + 3;
  text += `${style.bold('Options:')}\n`;
  for (const [flag, description] of GLOBAL_OPTIONS) text += `  ${flag.padEnd(optionWidth)}${description}\n`;
  text += '\nRun \'tsbox help COMMAND\' or \'tsbox COMMAND --help\' for more information on a command.\n';
  return text;
}

/**
 * clipanion writes an option's value as `#0`; podman's help says `value`.
 * The options table is aligned again for the longer text.
 */
export function tidyUsage(text: string): string {
  const lines = text.replace(/ #\d+/g, ' value').split('\n');
  const row = /^  (-\S(?:.*?\S)?) {2,}(\S.*)$/;
  const width = Math.max(0, ...lines.map((line) => line.match(row)?.[1]!.length ?? 0)) + 2;
  return lines.map((line) => line.replace(row, (_, flags: string, description: string) => `  ${flags.padEnd(width)}${description}`)).join('\n');
}

/** `tsbox volume --help`: the commands of one group. */
export function groupHelp(group: string, commands: readonly CommandClass[], style: Style): string {
  const rows: Array<[string, string]> = [];
  for (const command of commands) {
    const path = command.paths?.find((p) => p.length > 1 && p[0] === group);
    if (!path || !command.usage || INTERNAL.has(path.join(' '))) continue;
    rows.push([path.slice(1).join(' '), sentence(command.usage.description ?? '')]);
  }
  rows.sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  let text = `${style.bold('Usage:')}\n  tsbox ${group} COMMAND\n\n${style.bold('Commands:')}\n`;
  for (const [name, description] of rows) text += `  ${name.padEnd(width)}${description}\n`;
  return `${text}\nRun 'tsbox ${group} COMMAND --help' for more information on a command.\n`;
}
