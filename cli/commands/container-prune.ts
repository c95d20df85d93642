import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class ContainerPruneCommand extends BaseCommand {
  static override paths = [['container', 'prune']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'remove all non running containers',
    details: `
      Removes every container that has exited or was created and never started, with its files, and prints the ids removed. Asks first unless \`--force\`; without a terminal to ask on, \`--force\` is required.
    `,
    examples: [
      ['Remove stopped containers, asking first', '$0 container prune'],
      ['Without asking', '$0 container prune -f'],
    ],
  });

  force = Option.Boolean('-f,--force', false, { description: 'Do not prompt for confirmation' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { pruneContainers } = await import('../../core/container/prune.js');
    if (!this.force) {
      if (!(this.stdin as NodeJS.ReadStream).isTTY) {
        throw new TsboxError('refusing to prune containers without confirmation: stdin is not a terminal', { hint: 'use --force to remove them without asking' });
      }
      this.context.stdout.write('WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ');
      const answer = await readLine(this.stdin);
      if (!/^y(es)?$/i.test(answer.trim())) return 0;
    }
    const { createReporter } = await import('../reporter.js');
    const reporter = createReporter({ quiet: true, stderr: this.context.stderr });
    const { removed, errors } = await pruneContainers(new ContainerStore(), (m) => reporter.warn(m));
    this.context.stdout.write(removed.map((id) => `${id}\n`).join(''));
    if (errors.length === 0) return 0;
    for (const { id, error } of errors.slice(0, -1)) this.context.stderr.write(`Error: removing container ${id}: ${error.message}\n`);
    const last = errors[errors.length - 1]!;
    throw new TsboxError(`removing container ${last.id}: ${last.error.message}`);
  }
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
