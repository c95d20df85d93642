// Every tsbox command derives from BaseCommand: it prints errors once, on
// stderr, as podman does (`Error: ...`), and turns them into exit code 125.
// clipanion would otherwise print them on stdout and could exit 0.
import { Command, UsageError } from 'clipanion';
import { TsboxError, EXIT_TSBOX } from '../core/errors.js';
import { globalOptions } from './global-options.js';

export abstract class BaseCommand extends Command {
  /**
   * Standard input, made into a stream only when a command reads it: most
   * never do, and process.stdin opens fd 0 as a stream (~2 ms for a file or
   * /dev/null; a terminal is reopened). clipanion's context has no stdin in
   * the bundle (scripts/bundle.mjs).
   */
  protected get stdin(): NodeJS.ReadStream {
    return process.stdin;
  }

  // clipanion's Cli.run catches anything catch() throws, prints it on stdout
  // and exits 1; turning ExitCode into the command's return value here keeps
  // podman's exit codes and keeps stdout clean.
  override async validateAndExecute(): Promise<number> {
    try {
      return await super.validateAndExecute();
    } catch (error) {
      try {
        await this.catch(error);
        return 0;
      } catch (thrown) {
        if (thrown instanceof ExitCode) return thrown.code;
        throw thrown;
      }
    }
  }

  override async catch(error: unknown): Promise<void> {
    const stderr = this.context.stderr;
    if (error instanceof TsboxError) {
      stderr.write(`Error: ${error.userMessage()}\n`);
      if (globalOptions.logLevel === 'debug' && error.cause) stderr.write(`${String((error.cause as Error).stack ?? error.cause)}\n`);
      throw new ExitCode(error.exitCode);
    }
    if (error instanceof UsageError) {
      stderr.write(`Error: ${error.message}\nSee 'tsbox ${this.path.join(' ')} --help'\n`);
      throw new ExitCode(EXIT_TSBOX);
    }
    if (error instanceof ExitCode) throw error;
    const e = error as Error;
    stderr.write(`Error: ${e?.message ?? String(error)}\n`);
    if (globalOptions.logLevel === 'debug' && e?.stack) stderr.write(`${e.stack}\n`);
    throw new ExitCode(EXIT_TSBOX);
  }
}

/** Thrown by `catch` so that main.ts exits with this code without printing anything more. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
