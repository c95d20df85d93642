import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class ImagesCommand extends BaseCommand {
  static override paths = [['images'], ['image', 'ls'], ['image', 'list']];

  static override usage = Command.Usage({
    category: 'Images',
    description: 'list images in local storage',
    details: `
      Lists the images in the local store, newest first: one row per name, and \`<none>\` for an image that has lost its last name (a dangling image). Sizes are the unpacked size of the layers, in podman's decimal units.

      \`--format\` takes \`json\` or a Go template over the fields ID, Repository, Tag, Digest, Size, Created, CreatedAt, CreatedSince and Dangling; start it with \`table\` for a header row.
    `,
    examples: [
      ['List images', '$0 images'],
      ['Only the image ids', '$0 images -q'],
      ['Names and ids with a template', "$0 images --format '{{.ID}} {{.Repository}}:{{.Tag}}'"],
      ['Machine-readable', '$0 images --format json'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Show all images (tsbox keeps no intermediate images)' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'Display only image IDs' });
  noTrunc = Option.Boolean('--no-trunc', false, { description: 'Do not truncate output' });
  digests = Option.Boolean('--digests', false, { description: 'Show digests' });
  format = Option.String('--format', { description: "Pretty-print images using a Go template, or 'json'" });

  async execute(): Promise<number> {
    const { openStoreForReading } = await import('../open-store.js');
    const format = await import('../format.js');
    const store = await openStoreForReading();
    const images = await store.listImages();

    if (this.format === 'json') {
      const out = [];
      for (const image of images) {
        const config = await readConfig(store, image.configDigest);
        const created = new Date(image.created);
        out.push({
          Id: image.id,
          ParentId: '',
          RepoTags: image.names,
          RepoDigests: image.repoDigests,
          Size: image.size,
          SharedSize: 0,
          VirtualSize: image.size,
          Labels: config.config?.Labels ?? null,
          Containers: 0,
          ReadOnly: false,
          Dangling: image.names.length === 0,
          Names: image.names,
          Digest: image.digest,
          History: image.names,
          Created: Math.floor(created.getTime() / 1000),
          CreatedAt: image.created,
          Arch: image.architecture,
          Os: image.os,
        });
      }
      this.context.stdout.write(format.formatJson(out));
      return 0;
    }

    if (this.quiet) {
      const ids = [...new Set(images.map((i) => (this.noTrunc ? `sha256:${i.id}` : i.id.slice(0, 12))))];
      this.context.stdout.write(ids.map((id) => `${id}\n`).join(''));
      return 0;
    }

    // One row per name, as podman: an image with two tags shows twice.
    const rows = images.flatMap((image) => {
      const created = new Date(image.created);
      const common = {
        ID: this.noTrunc ? `sha256:${image.id}` : image.id.slice(0, 12),
        Digest: image.digest,
        Size: format.humanSize(image.size),
        Created: format.timeAgo(created),
        CreatedSince: format.timeAgo(created),
        CreatedAt: format.goTimeString(created),
        Dangling: image.names.length === 0,
      };
      if (image.names.length === 0) return [{ ...common, Repository: '<none>', Tag: '<none>' }];
      return image.names.map((name) => {
        const colon = name.lastIndexOf(':');
        return { ...common, Repository: name.slice(0, colon), Tag: name.slice(colon + 1) };
      });
    });

    if (this.format !== undefined) {
      this.context.stdout.write(format.formatTemplate(this.format, rows, HEADERS));
      return 0;
    }
    type Column = keyof (typeof rows)[number];
    const columns: Column[] = ['Repository', 'Tag', ...(this.digests ? (['Digest'] as const) : []), 'ID', 'Created', 'Size'];
    const table = [columns.map((c) => HEADERS[c]!), ...rows.map((row) => columns.map((c) => String(row[c])))];
    this.context.stdout.write(format.renderTable(table));
    return 0;
  }
}

const HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  Size: 'SIZE',
  Created: 'CREATED',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Dangling: 'DANGLING',
};

interface ImageConfig {
  config?: { Labels?: Record<string, string> | null };
}

/** The image's config blob; an empty one when it cannot be read (a listing never fails on one image). */
async function readConfig(store: { readBlob(d: string): Promise<Buffer> }, digest: string): Promise<ImageConfig> {
  try {
    return JSON.parse((await store.readBlob(digest)).toString('utf8')) as ImageConfig;
  } catch {
    return {};
  }
}
