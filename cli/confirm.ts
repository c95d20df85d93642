// Asking before something destructive (system prune, system reset), as
// podman does: only on a terminal; without one the caller must pass --force.
import { TsboxError } from '../core/errors.js';

/** Prints `warning` (ending in podman's "[y/N] ") and resolves to the answer; refuses without a terminal. */
export async function confirm(
  context: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream },
  warning: string,
  refusal: string,
): Promise<boolean> {
  if (!(context.stdin as NodeJS.ReadStream).isTTY) {
    throw new TsboxError(`${refusal} without confirmation: stdin is not a terminal`, { hint: 'use --force to go ahead without asking' });
  }
  context.stdout.write(warning);
  return /^y(es)?$/i.test((await readLine(context.stdin)).trim());
}

/** The first line on `stream`, or what there is before EOF. */
async function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    text += chunk.toString();
    const nl = text.indexOf('\n');
    if (nl >= 0) return text.slice(0, nl);
    if (text.length > 4096) break;
  }
  return text;
}
