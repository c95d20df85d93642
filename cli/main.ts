// Entry point: registers the commands and runs the one asked for.
// Only the module of the command the arguments name is loaded (command-table.ts),
// and commands load core/ lazily in execute(), so start-up pays for clipanion
// and one command; help and mistyped command lines load them all.
// Help, `--version` and mistyped command lines are answered here, before or
// instead of clipanion's own texts (see help.ts and suggest.ts).
import { Cli, type CommandClass } from 'clipanion';
import { ExitCode } from './base.js';
import { takeGlobalOptions } from './global-options.js';
import { groupNames, loadCommandsFor } from './command-table.js';
import { colorEnabled, styleFor } from './color.js';
import { groupHelp, overview, tidyUsage } from './help.js';
import { parseErrorText } from './usage-errors.js';

const VERSION = '0.1.0';
const EXIT_USAGE = 125;

async function main(): Promise<number> {
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
    stdout.write(overview(await allCommands(), styleFor(stdout)));
    return 0;
  }
  // `tsbox help run` is `tsbox run --help`
  if (argv[0] === 'help') argv = [...argv.slice(1), '--help'];
  // `tsbox volume --help`: the group's commands
  if (groupNames().has(argv[0]!) && (argv[1] === '--help' || argv[1] === '-h')) {
    stdout.write(groupHelp(argv[0]!, await allCommands(), styleFor(stdout)));
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    // plain --version stays fast: no helper, no host probe
    if (!argv.includes('--verbose')) {
      stdout.write(`tsbox version ${VERSION}\n`);
      return 0;
    }
    argv = ['version'];
  }

  const cli = new Cli({ binaryLabel: 'tsbox', binaryName: 'tsbox', binaryVersion: VERSION, enableColors: colorEnabled(stdout) });
  // none named (help, a typo): all of them, for the listing and the suggestions
  for (const command of (await loadCommandsFor(argv)) ?? (await allCommands())) cli.register(command);

  const context = { stdin: process.stdin, stdout, stderr };
  let command;
  try {
    command = cli.process(argv, context);
  } catch (err) {
    stderr.write(parseErrorText(err as Error, argv, (command) => cli.usage(command, { detailed: false }), await allCommands()));
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

async function allCommands(): Promise<CommandClass[]> {
  return (await import('./commands/index.js')).commands;
}

/** The command `CMD --help` asks about, when clipanion's answer is its help for one command. */
function helpTarget(command: unknown): CommandClass | undefined {
  // clipanion's internal HelpCommand: `commands` indexes `contexts`
  const help = command as { contexts?: Array<{ commandClass: CommandClass }>; commands?: number[] };
  if (!Array.isArray(help.contexts) || !Array.isArray(help.commands) || help.commands.length !== 1) return undefined;
  return help.contexts[help.commands[0]!]?.commandClass;
}

let settled = false;
// Node exits with 0 when nothing is left to wait for, even in the middle of an
// await that can no longer end: never report that as success.
process.once('beforeExit', () => {
  if (settled) return;
  process.stderr.write('Error: internal error: tsbox stopped waiting before the command finished (a bug: please report it with the output of --log-level debug)\n');
  process.exitCode = 125;
});
main().then(
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
