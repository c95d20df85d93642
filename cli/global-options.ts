// Options podman accepts before the command name (`tsbox --log-level debug pull x`).
// clipanion only parses options after the command path, so main.ts takes these
// off argv first.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const globalOptions: { logLevel: LogLevel; noColor: boolean } = {
  logLevel: 'warn',
  noColor: false,
};

const LOG_LEVELS = new Set<string>(['debug', 'info', 'warn', 'error']);

/** Removes global options from the front of argv and records them; returns the rest. */
export function takeGlobalOptions(argv: string[]): string[] {
  const rest = [...argv];
  while (rest.length > 0 && rest[0]!.startsWith('--')) {
    const arg = rest[0]!;
    let value: string | undefined;
    if (arg === '--log-level') {
      value = rest[1];
      rest.splice(0, 2);
    } else if (arg.startsWith('--log-level=')) {
      value = arg.slice('--log-level='.length);
      rest.splice(0, 1);
    } else if (arg === '--no-color') {
      globalOptions.noColor = true;
      rest.splice(0, 1);
      continue;
    } else {
      break;
    }
    if (value === undefined || !LOG_LEVELS.has(value)) {
      throw new Error(`invalid log level ${JSON.stringify(value ?? '')}: use one of debug, info, warn, error`);
    }
    globalOptions.logLevel = value as LogLevel;
  }
  if (process.env.NO_COLOR) globalOptions.noColor = true;
  return rest;
}
