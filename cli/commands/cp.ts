import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.js';

export class CpCommand extends BaseCommand {
  static override paths = [['cp'], ['container', 'cp']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'copy files/folders between a container and the local filesystem',
    details: `
      Copies SRC_PATH to DEST_PATH; one of them is \`CONTAINER:PATH\` (a path that starts with \`/\` or \`.\` is a local one even with a colon in it). The container may be running or stopped. \`-\` as SRC_PATH extracts a tar stream from stdin into the directory DEST_PATH; as DEST_PATH it writes SRC_PATH as a tar stream on stdout.

      podman's rules: a file lands at DEST_PATH, or in it when it is a directory; a directory is created at DEST_PATH when it does not exist, else copied into it, and \`SRC/.\` copies a directory's contents. Paths in the container are resolved inside its root: a symlink there never leads out of it. A symlink given as SRC_PATH is copied as what it points to.

      With \`-a\` (the default, as podman's) files copied into a container belong to the container's user; \`--archive=false\` keeps the owners of the source (a tar stream's, or the host owner's as mapped into the container). Files copied out belong to the user running tsbox; a tar stream on stdout keeps the container's owners.
    `,
    examples: [
      ['A file out of a container', '$0 cp web:/etc/nginx/nginx.conf .'],
      ['A directory into a container', '$0 cp ./site web:/usr/share/nginx/html'],
      ['The contents of a directory as a tar stream', '$0 cp web:/var/log/. - | tar t'],
      ['A tar stream into a container', 'tar c . | $0 cp - web:/srv'],
    ],
  });

  archive = Option.String('-a,--archive', { tolerateBoolean: true, description: 'Chown copied files to the primary uid/gid of the destination container (default true)' });
  overwrite = Option.Boolean('--overwrite', false, { description: 'Allow to overwrite directories with non-directories and vice versa' });
  followLink = Option.Boolean('-L,--follow-link', false, { description: 'Follow a symlink in SRC_PATH (what tsbox, as podman, always does)' });
  src = Option.String({ name: 'SRC_PATH' });
  dest = Option.String({ name: 'DEST_PATH' });

  async execute(): Promise<number> {
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { copy } = await import('../../core/container/cp.js');
    const { createReporter } = await import('../reporter.js');

    const value = this.archive === undefined ? 'true' : String(this.archive);
    if (!['true', 'false'].includes(value)) throw new UsageError(`invalid argument "${value}" for "-a, --archive" flag: must be true or false`);
    await copy(new ContainerStore(), this.src, this.dest, {
      archive: value === 'true',
      overwrite: this.overwrite,
      reporter: createReporter({ quiet: false, stderr: this.context.stderr }),
    });
    return 0;
  }
}
