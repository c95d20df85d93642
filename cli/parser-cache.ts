// clipanion's parser for a command, compiled at build time. clipanion builds
// a state machine from the registered commands each time it parses, and its
// last pass (simplifyMachine) grows with the square of the options: for
// run's ~50 options that is ~11 ms of every `tsbox run`. scripts/bundle.mjs
// stores each command bundle's finished machine next to it
// (cmd-<module>.parser, v8.serialize: ~100 KB, ~1.5 ms to read) and cli.ts
// hands it to clipanion instead of compiling.
//
// The file names the commands it was compiled for (paths, options, operands),
// and is used only when that matches the commands registered now; otherwise,
// or when there is no file (the unbundled dist/, help with all commands),
// clipanion compiles as usual.
import { readFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import type { Cli } from 'clipanion';
// clipanion's own machine runner (lib/core.js: what its compile() result's process() calls)
import { runMachineInternal, selectBestState, type StateMachine } from 'clipanion/lib/core.js';
import { END_OF_INPUT } from 'clipanion/lib/constants.js';

/** The parts of clipanion's CliBuilder this module reads (clipanion 3.2, lib/core.js). */
interface CommandBuilderShape {
  paths: string[][];
  options: Array<{ names: string[]; arity: number; hidden: boolean; required: boolean; allowBinding: boolean }>;
  arity: { leading: string[]; trailing: string[]; extra: string[] | symbol; proxy: boolean };
  context?: unknown;
}
interface CompiledShape {
  machine: unknown;
  contexts: unknown[];
  process(input: string[]): unknown;
  suggest(input: string[], partial: boolean): unknown;
}
interface CliBuilderShape {
  builders: CommandBuilderShape[];
  compile(): CompiledShape;
}

interface ParserFile {
  signature: string;
  machine: unknown;
}

function builderOf(cli: Cli): CliBuilderShape {
  return (cli as unknown as { builder: CliBuilderShape }).builder;
}

/** What the machine depends on: every registered command's paths, options and operands. */
function signature(cli: Cli): string {
  return JSON.stringify(
    builderOf(cli).builders.map((b) => [b.paths, b.options, b.arity]),
    (_key, value: unknown) => (typeof value === 'symbol' ? String(value) : value),
  );
}

/** The compiled parser of `cli`'s registered commands, as the build stores it. */
export function compiledParser(cli: Cli): Buffer {
  const file: ParserFile = { signature: signature(cli), machine: builderOf(cli).compile().machine };
  return serialize(file);
}

/**
 * Makes `cli` parse with the machine stored in `path` when it was compiled
 * for the commands registered now; says whether it does.
 */
export function useCompiledParser(cli: Cli, path: string): boolean {
  let file: ParserFile;
  try {
    file = deserialize(readFileSync(path)) as ParserFile;
  } catch {
    return false;
  }
  if (!file || file.signature !== signature(cli)) return false;
  const builder = builderOf(cli);
  const compile = builder.compile.bind(builder);
  const machine = file.machine as StateMachine;
  builder.compile = () => ({
    machine,
    contexts: builder.builders.map((b) => b.context),
    process: (input: string[]) => selectBestState(input, runMachineInternal(machine, [...input, END_OF_INPUT]).map(({ state }) => state)),
    // completion of partial command lines: rare, compiled as clipanion does
    suggest: (input: string[], partial: boolean) => compile().suggest(input, partial),
  });
  return true;
}
