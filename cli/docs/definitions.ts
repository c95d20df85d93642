// What the man pages and the shell completions are generated from: every
// command registered in cli/commands/index.ts, read through clipanion.
// `Cli.definitions()` decides which commands are documented (clipanion leaves
// out a command whose `static usage` is undefined: `__complete`); the options
// and positional arguments are read the way `Cli.register` reads them, by
// letting each option describe itself to a builder, here one that records.
import { Cli, Command, type CommandClass } from 'clipanion';

export interface OptionDoc {
  /** `-s`, `--signal`: short names first, as declared */
  names: string[];
  /** takes a value (`--name NAME`) */
  value: boolean;
  description: string;
}

export interface Positionals {
  /** required, before any optional one */
  leading: string[];
  /** optional (`[NAME]`) */
  optional: string[];
  /** any number, `required` of them at least (a name may carry its own brackets: `CONTAINER [PORT]`) */
  rest?: { name: string; required: number };
  /** everything after is passed on (`run IMAGE COMMAND...`) */
  proxy?: { name: string; required: number };
  trailing: string[];
}

export interface CommandDoc {
  /** the primary path, `volume ls` */
  name: string;
  /** every path, the primary first */
  paths: string[][];
  category: string;
  /** one line, lower case start as clipanion's */
  description: string;
  /** paragraphs of clipanion's markdown-ish text (`code`) */
  details: string[];
  examples: Array<[label: string, commandLine: string]>;
  options: OptionDoc[];
  positionals: Positionals;
}

interface RecordedOption {
  names: string[];
  arity?: number;
  hidden?: boolean;
  description?: string;
}

/** The builder interface clipanion's options call in their `definition` (core.js CommandBuilder). */
class RecordingBuilder {
  options: RecordedOption[] = [];
  positionals: Positionals = { leading: [], optional: [], trailing: [] };

  addPositional({ name = 'arg', required = true }: { name?: string; required?: boolean } = {}): void {
    if (this.positionals.rest || this.positionals.proxy) this.positionals.trailing.push(name);
    else if (required && this.positionals.optional.length === 0) this.positionals.leading.push(name);
    else if (required) this.positionals.trailing.push(name);
    else this.positionals.optional.push(name);
  }

  addRest({ name = 'arg', required = 0 }: { name?: string; required?: number } = {}): void {
    this.positionals.rest = { name, required };
  }

  addProxy({ name = 'arg', required = 0 }: { name?: string; required?: number } = {}): void {
    this.positionals.proxy = { name, required };
  }

  addOption(option: RecordedOption): void {
    this.options.push(option);
  }
}

/** Paragraphs of a `details` text: the template literal's indentation removed, lines joined. */
export function paragraphs(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(/\n[ \t]*\n/)
    .map((block) =>
      block
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '')
        .join(' '),
    )
    .filter((block) => block !== '');
}

function describe(commandClass: CommandClass): CommandDoc {
  const builder = new RecordingBuilder();
  const instance = new commandClass() as unknown as Record<string, unknown>;
  for (const key of Object.keys(instance)) {
    const value = instance[key] as { [Command.isOption]?: boolean; definition?: (builder: RecordingBuilder, key: string) => void } | null;
    if (typeof value === 'object' && value !== null && value[Command.isOption] && value.definition) value.definition(builder, key);
  }
  const usage = commandClass.usage ?? {};
  const paths = (commandClass.paths ?? []).filter((path) => path.length > 0);
  return {
    name: paths[0]!.join(' '),
    paths,
    category: usage.category ?? 'Other',
    description: (usage.description ?? '').trim(),
    details: paragraphs(usage.details),
    examples: (usage.examples ?? []).map(([label, line]) => [label.trim(), line.replace(/\$0/g, 'tsbox')]),
    options: builder.options
      .filter((option) => !option.hidden)
      .map((option) => ({ names: option.names, value: (option.arity ?? 0) > 0, description: (option.description ?? '').trim() })),
    positionals: builder.positionals,
  };
}

/**
 * The documented commands, in registration order. A command clipanion hides
 * from its definitions (no `static usage`) is left out, and so is one without
 * a path (a default command; tsbox has none).
 */
export function commandDocs(commands: readonly CommandClass[]): CommandDoc[] {
  const cli = new Cli({ binaryName: 'tsbox' });
  for (const command of commands) cli.register(command);
  const documented = new Set(cli.definitions().map((definition) => definition.path));
  return commands
    .filter((command) => (command.paths ?? []).some((path) => path.length > 0))
    .filter((command) => documented.has(['tsbox', ...command.paths![0]!].join(' ')))
    .map(describe);
}

/** `run IMAGE [COMMAND [ARG...]]`-style words after the command path. */
export function positionalSynopsis(p: Positionals): string[] {
  const words: string[] = [...p.leading, ...p.optional.map((name) => `[${name}]`)];
  if (p.rest) {
    const bracketed = /[\s[]/.test(p.rest.name);
    for (let i = 0; i < p.rest.required; i++) words.push(p.rest.name);
    words.push(bracketed ? p.rest.name : `[${p.rest.name}...]`);
    if (bracketed && p.rest.required > 0) words.pop();
  }
  if (p.proxy) words.push(p.proxy.required > 0 ? `${p.proxy.name} [ARG...]` : `[${p.proxy.name} [ARG...]]`);
  words.push(...p.trailing);
  return words;
}
