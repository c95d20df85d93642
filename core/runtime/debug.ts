// What `--log-level debug` shows of a helper start, for bug reports: the
// command and the NUL-separated arguments it reads from --args, one per line.

import type { Reporter } from '../progress.js';

/** One argument as it can be read back: JSON-quoted when it holds a control character or is empty. */
function printable(arg: string): string {
  return arg === '' || /[\x00-\x1f\x7f]/.test(arg) ? JSON.stringify(arg) : arg;
}

export function debugHelperStart(reporter: Reporter, path: string, argv: readonly string[], args: readonly string[]): void {
  reporter.debug(`starting ${path} ${argv.join(' ')} with ${args.length} args:\n${args.map((arg) => `  ${printable(arg)}`).join('\n')}`);
}
