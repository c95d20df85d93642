import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';
import { parseTlsVerify, tlsVerifyOption } from '../options.js';

export class PullCommand extends BaseCommand {
  static override paths = [['pull'], ['image', 'pull']];

  static override usage = Command.Usage({
    category: 'Images',
    description: 'pull an image from a registry',
    details: `
      Fetches IMAGE from a registry into the local store. A short name such as \`alpine\` is looked up in the unqualified-search-registries of registries.conf (docker.io when none are set); mirrors configured there are tried first.

      Layers are downloaded in parallel, verified by digest while they stream, and unpacked as they arrive. An interrupted pull resumes where it stopped. Progress goes to stderr on a terminal; the image id is printed on stdout.
    `,
    examples: [
      ['Pull the latest alpine image', '$0 pull alpine'],
      ['Pull an image for another platform', '$0 pull --platform linux/arm64 alpine'],
      ['Pull from a registry over plain http', '$0 pull --tls-verify=false localhost:5000/app:1.0'],
    ],
  });

  quiet = Option.Boolean('-q,--quiet', false, { description: 'Suppress progress output' });
  platform = Option.String('--platform', { description: 'Choose OS/ARCH[/VARIANT] from a multi-platform image' });
  arch = Option.String('--arch', { description: 'Use ARCH instead of the host architecture' });
  os = Option.String('--os', { description: 'Use OS instead of the host OS' });
  variant = Option.String('--variant', { description: 'Use VARIANT instead of the default variant' });
  tlsVerify = tlsVerifyOption();
  image = Option.String({ name: 'IMAGE' });

  async execute(): Promise<number> {
    const { createReporter } = await import('../reporter.js');
    const { inUserNamespace } = await import('../../core/userns/session.js');
    const reporter = createReporter({ quiet: this.quiet, stderr: this.context.stderr });
    return inUserNamespace(reporter, async (session) => {
      const { pullImage } = await import('../../core/pull/pull.js');
      const { hostPlatform, parsePlatform } = await import('../../core/registry/index.js');
      let platform = this.platform ? parsePlatform(this.platform) : undefined;
      if (this.arch || this.os || this.variant) {
        const base = platform ?? hostPlatform();
        platform = {
          os: this.os ?? base.os,
          architecture: this.arch ?? base.architecture,
          ...(this.variant ? { variant: this.variant } : {}),
        };
      }
      let image;
      try {
        ({ image } = await pullImage(this.image, {
          platform,
          tlsVerify: parseTlsVerify(this.tlsVerify),
          reporter,
          mapping: { uids: session.mapping.uids, gids: session.mapping.gids },
          helper: session.helper,
          canChown: true,
        }));
      } finally {
        reporter.close();
      }
      this.context.stdout.write(`${image.id}\n`);
      return 0;
    });
  }
}
