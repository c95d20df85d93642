// Runs a command line: help, `--version` and mistyped command lines are
// answered here, before or instead of clipanion's own texts (help.ts,
// suggest.ts); clipanion is given only the commands the arguments name.
// Commands load core/ lazily in execute(). main.ts runs it with every command;
// in the bundle, dispatch.ts picks a bundle holding only the command named.
import { Cli, type BaseContext, type CommandClass } from 'clipanion';
import { fileURLToPath } from 'node:url';
import { ExitCode } from './base.js';
import { takeGlobalOptions } from './global-options.js';
import { commandsFor } from './command-table.js';
import { colorEnabled, styleFor } from './color.js';
import { groupHelp, overview, tidyUsage } from './help.js';
import { useCompiledParser } from './parser-cache.js';
import { commandGroups, parseErrorText } from './usage-errors.js';
import { VERSION } from './version-string.js';

const EXIT_USAGE = 125;

async function main(commands: readonly CommandClass[]): Promise<number> {
  const stdout = process.stdout;
  const stderr = process.stderr;
  let argv: string[];
  try {
    argv = takeGlobalOptions(process.argv.slice(2));
  } catch (err) {
    stderr.write(`Error: ${(err as Error).message}\nTry 'tsbox --help' for more information\n`);
    return EXIT_USAGE;
  }

  if (argv.length === 0) {
    stderr.write("Error: missing command 'tsbox COMMAND'\nTry 'tsbox --help' for more information\n");
    return EXIT_USAGE;
  }
  if (argv[0] === '--help' || argv[0] === '-h' || (argv[0] === 'help' && argv.length === 1)) {
    stdout.write(overview([...commands], styleFor(stdout)));
    return 0;
  }
  // `tsbox help run` is `tsbox run --help`
  if (argv[0] === 'help') argv = [...argv.slice(1), '--help'];
  // `tsbox volume --help`: the group's commands
  if (commandGroups(commands).has(argv[0]!) && (argv[1] === '--help' || argv[1] === '-h')) {
    stdout.write(groupHelp(argv[0]!, [...commands], styleFor(stdout)));
    return 0;
  }
  // `tsbox --version`: podman's line first, then the helper's version and the host features
  if (argv[0] === '--version' || argv[0] === '-v') argv = argv.includes('--verbose') ? ['version'] : ['version', '--brief'];

  // none named (help, a typo): all of them, for the listing and the suggestions
  const cli = newCli(commandsFor(argv, commands), colorEnabled(stdout));
  // in a command's bundle, the parser the build compiled for it (parser-cache.ts)
  const bundle = fileURLToPath(import.meta.url);
  if (bundle.endsWith('.cjs')) useCompiledParser(cli, bundle.replace(/\.cjs$/, '.parser'));

  // no stdin: commands read process.stdin themselves (BaseCommand.stdin), so that one that never reads it never opens it
  const context = { stdout, stderr } as unknown as BaseContext;
  let command;
  try {
    command = cli.process(argv, context);
  } catch (err) {
    stderr.write(parseErrorText(err as Error, argv, (command) => cli.usage(command, { detailed: false }), [...commands]));
    return EXIT_USAGE;
  }
  const helpFor = helpTarget(command);
  if (helpFor) {
    const usage = tidyUsage(cli.usage(helpFor, { detailed: true, colored: colorEnabled(stdout) }));
    stdout.write(usage.endsWith('\n') ? usage : `${usage}\n`);
    return 0;
  }
  try {
    return await cli.run(command, context);
  } catch (err) {
    if (err instanceof ExitCode) return err.code;
    stderr.write(`Error: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
}

/** clipanion's Cli with `commands`, as every command line gets it (and the build, to compile each bundle's parser). */
export function newCli(commands: readonly CommandClass[], enableColors = false): Cli {
  const cli = new Cli({ binaryLabel: 'tsbox', binaryName: 'tsbox', binaryVersion: VERSION, enableColors });
  for (const command of commands) cli.register(command);
  return cli;
}

/** The command `CMD --help` asks about, when clipanion's answer is its help for one command. */
function helpTarget(command: unknown): CommandClass | undefined {
  // clipanion's internal HelpCommand: `commands` indexes `contexts`
  const help = command as { contexts?: Array<{ commandClass: CommandClass }>; commands?: number[] };
  if (!Array.isArray(help.contexts) || !Array.isArray(help.commands) || help.commands.length !== 1) return undefined;
  return help.contexts[help.commands[0]!]?.commandClass;
}

/**
 * Runs the command line with `commands` (all of them, or in the bundle only
 * the one the dispatcher chose) and sets the exit code.
 */
export function runCli(commands: readonly CommandClass[]): void {
  let settled = false;
  // Node exits with 0 when nothing is left to wait for, even in the middle of an
  // await that can no longer end: never report that as success.
  process.once('beforeExit', () => {
    if (settled) return;
    process.stderr.write('Error: internal error: tsbox stopped waiting before the command finished (a bug: please report it with the output of --log-level debug)\n');
    process.exitCode = 125;
  });
  main(commands).then(
    (code) => {
      settled = true;
      process.exitCode = code;
    },
    (err) => {
      settled = true;
      process.stderr.write(`Error: ${(err as Error).message}\n`);
      process.exitCode = 125;
    },
  );
}
