// Entry point: registers the commands and runs the one asked for.
// Commands load core/ lazily in execute(), so start-up only pays for clipanion,
// and clipanion only for the commands the arguments can name: building its
// parser for every command costs more than everything else `run` does.
import { Cli, Builtins } from 'clipanion';
import { ExitCode } from './base.js';
import { takeGlobalOptions } from './global-options.js';
import { commands } from './commands/index.js';
import { commandsFor } from './command-table.js';

const VERSION = '0.1.0';

async function main(): Promise<number> {
  let argv: string[];
  try {
    argv = takeGlobalOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    return 125;
  }
  const cli = new Cli({ binaryLabel: 'tsbox', binaryName: 'tsbox', binaryVersion: VERSION, enableColors: false });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const command of commandsFor(argv, commands)) cli.register(command);

  const context = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  let command;
  try {
    command = cli.process(argv, context);
  } catch (err) {
    // Parse errors (unknown command or flag) go to stderr with podman's exit code.
    const text = (err as Error).message.replace(/^(Unknown Syntax Error|Usage Error): /, '');
    process.stderr.write(`Error: ${text.trim()}\nSee 'tsbox --help'\n`);
    return 125;
  }
  try {
    return await cli.run(command, context);
  } catch (err) {
    if (err instanceof ExitCode) return err.code;
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    return 125;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exitCode = 125;
  },
);

