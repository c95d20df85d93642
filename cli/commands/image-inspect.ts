import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

export class ImageInspectCommand extends BaseCommand {
  static override paths = [['image', 'inspect']];

  static override usage = Command.Usage({
    category: 'Images',
    description: 'display the configuration of one or more images',
    details: `
      Prints a JSON array with one object per IMAGE, shaped as podman's: ids, names, digests, the image config, the layers' diff ids and history. IMAGE is a name, an id or an id prefix.

      \`--format\` takes a Go template over those fields, e.g. \`{{.Id}}\` or \`{{json .Config.Env}}\`.
    `,
    examples: [
      ['Inspect an image', '$0 image inspect alpine'],
      ['Only its environment', "$0 image inspect --format '{{json .Config.Env}}' alpine"],
    ],
  });

  format = Option.String('-f,--format', { description: "Format the output using a Go template, or 'json'" });
  images = Option.Rest({ required: 1, name: 'IMAGE' });

  async execute(): Promise<number> {
    const { openStoreForReading } = await import('../open-store.js');
    const { formatJson, formatTemplate } = await import('../format.js');
    const store = await openStoreForReading();
    const out: Record<string, unknown>[] = [];
    let firstError: unknown;
    for (const name of this.images) {
      try {
        out.push(await inspectImage(store, name));
      } catch (err) {
        // podman reports every missing image and still prints the others
        if (firstError !== undefined) this.context.stderr.write(`Error: ${(firstError as Error).message}\n`);
        firstError = err;
      }
    }
    if (this.format !== undefined && this.format !== 'json') this.context.stdout.write(formatTemplate(this.format, out));
    else this.context.stdout.write(formatJson(out));
    if (firstError !== undefined) throw firstError;
    return 0;
  }
}

interface OciConfig {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  config?: Record<string, unknown> & { Labels?: Record<string, string> | null; User?: string };
  history?: unknown[];
}

export async function inspectImage(store: import('../../core/store/index.js').ImageStore, name: string): Promise<Record<string, unknown>> {
  const image = await store.findImage(name);
  const config = JSON.parse((await store.readBlob(image.configDigest)).toString('utf8')) as OciConfig;
  let manifest: { mediaType?: string; annotations?: Record<string, string> } = {};
  try {
    manifest = JSON.parse((await store.readBlob(image.manifestDigest)).toString('utf8'));
  } catch {
    // images committed without their manifest (none yet) still inspect
  }
  const labels = config.config?.Labels ?? null;
  return {
    Id: image.id,
    Digest: image.digest,
    RepoTags: image.names,
    RepoDigests: image.repoDigests,
    Parent: '',
    Comment: '',
    Created: config.created ?? image.created,
    Config: config.config ?? {},
    Version: '',
    Author: config.author ?? '',
    Architecture: config.architecture ?? image.architecture,
    Os: config.os ?? image.os,
    ...(config.variant ?? image.variant ? { Variant: config.variant ?? image.variant } : {}),
    Size: image.size,
    VirtualSize: image.size,
    GraphDriver: {
      Name: 'overlay',
      Data: { LowerDir: image.layers.map((l) => store.layerPath(l)).reverse().join(':') },
    },
    RootFS: { Type: 'layers', Layers: image.diffIds },
    Labels: labels,
    Annotations: manifest.annotations ?? {},
    ManifestType: manifest.mediaType ?? '',
    User: config.config?.User ?? '',
    History: config.history ?? [],
    NamesHistory: image.names,
  };
}
