import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.js';
import { registryKey } from './login.js';

export class LogoutCommand extends BaseCommand {
  static override paths = [['logout']];

  static override usage = Command.Usage({
    category: 'Registries',
    description: 'log out of a container registry',
    details: `
      Removes the credentials stored for REGISTRY by \`tsbox login\` from the auth file (\`$REGISTRY_AUTH_FILE\`, else \`$XDG_RUNTIME_DIR/containers/auth.json\`). With \`--all\`, removes every registry's credentials from that file.
    `,
    examples: [
      ['Log out of quay.io', '$0 logout quay.io'],
      ['Forget every stored login', '$0 logout --all'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Remove the credentials of every registry' });
  authfile = Option.String('--authfile', { description: 'Path of the auth file (default: $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)' });
  registry = Option.String({ name: 'REGISTRY', required: false });

  async execute(): Promise<number> {
    if (this.all && this.registry !== undefined) throw new UsageError('--all takes no REGISTRY');
    if (!this.all && this.registry === undefined) throw new UsageError('give a REGISTRY, or --all');
    if (this.authfile) process.env.REGISTRY_AUTH_FILE = this.authfile;
    const auth = await import('../../core/config/auth.js');
    if (this.all) {
      auth.removeAllCredentials();
      this.context.stdout.write('Removed login credentials for all registries\n');
      return 0;
    }
    const { key } = registryKey(this.registry!);
    if (!auth.removeCredentials(key)) {
      const { TsboxError } = await import('../../core/errors.js');
      throw new TsboxError(`not logged into ${key}`);
    }
    this.context.stdout.write(`Removed login credentials for ${key}\n`);
    return 0;
  }
}
