import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';

type Kind = 'container' | 'image' | 'volume' | 'all';

export class InspectCommand extends BaseCommand {
  static override paths = [['inspect'], ['container', 'inspect']];

  static override usage = Command.Usage({
    category: 'Containers',
    description: 'display the configuration of containers, images or volumes',
    details: `
      Prints a JSON array with one object per NAME, shaped as podman's: for a container its command, state (\`State.Running\`, \`State.Pid\`, \`State.ExitCode\`...), mounts, config, host config and published ports. \`tsbox inspect\` looks for a container first, then an image, then a volume (\`--type\` picks one); \`tsbox container inspect\` only for containers.

      \`--format\` takes a Go template over those fields, e.g. \`{{.State.Running}}\` or \`{{json .Config.Env}}\`.
    `,
    examples: [
      ['Inspect a container', '$0 inspect web'],
      ['Is it running?', "$0 inspect --format '{{.State.Running}}' web"],
      ['The latest container', '$0 container inspect -l'],
    ],
  });

  format = Option.String('-f,--format', { description: "Format the output using a Go template, or 'json'" });
  latest = Option.Boolean('-l,--latest', false, { description: 'Act on the latest container tsbox is aware of' });
  type = Option.String('-t,--type', { description: 'Only inspect this kind of object: container, image, volume or all' });
  names = Option.Rest({ name: 'NAME' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    const { ContainerStore, ContainerNotFoundError } = await import('../../core/runtime/containers.js');
    const { resolveContainer, latestContainer } = await import('../../core/container/lookup.js');
    const { loadContainer } = await import('../../core/container/list.js');
    const { inspectContainer } = await import('../../core/container/inspect.js');
    const { formatJson, formatTemplate } = await import('../format.js');

    const containerOnly = this.path[0] === 'container';
    const kind = (containerOnly ? 'container' : (this.type ?? 'all')) as Kind;
    if (!['container', 'image', 'volume', 'all'].includes(kind)) {
      throw new TsboxError(`invalid type ${JSON.stringify(kind)}: must be one of "container", "image", "volume" or "all"`);
    }
    if (this.latest && this.names.length > 0) throw new TsboxError('--latest and containers cannot be used together');
    if (!this.latest && this.names.length === 0) throw new TsboxError(`${this.path.join(' ')} requires a name, id, or the "--latest" (-l) flag`);
    if (this.latest && kind !== 'container' && kind !== 'all') throw new TsboxError('--latest can only be used with containers');

    const containers = new ContainerStore();
    let images: import('../../core/store/index.js').ImageStore | undefined;
    const notFound = new Error('not found');

    const asContainer = async (name: string | undefined) => {
      let id: string;
      try {
        id = name === undefined ? await latestContainer(containers) : await resolveContainer(containers, name);
      } catch (err) {
        if (err instanceof ContainerNotFoundError) throw notFound;
        throw err;
      }
      const entry = await loadContainer(containers, id);
      if (!entry) throw notFound;
      return inspectContainer(containers, entry);
    };
    const asImage = async (name: string) => {
      const { ImageNotFoundError } = await import('../../core/store/index.js');
      const { inspectImage } = await import('./image-inspect.js');
      const { openStoreForReading } = await import('../open-store.js');
      images ??= await openStoreForReading();
      try {
        return await inspectImage(images, name);
      } catch (err) {
        if (err instanceof ImageNotFoundError) throw notFound;
        throw err;
      }
    };
    const asVolume = async (name: string) => {
      const { VolumeStore, volumeRecord } = await import('../../core/volume/volumes.js');
      const volume = await new VolumeStore().find(name).catch(() => undefined);
      if (!volume) throw notFound;
      return { ...volumeRecord(volume) } as Record<string, unknown>;
    };
    const missing = (name: string) => {
      switch (kind) {
        case 'container':
          return new TsboxError(`no such container ${name}`);
        case 'image':
          return new TsboxError(`${name}: image not known`);
        case 'volume':
          return new TsboxError(`no such volume ${name}`);
        default:
          return new TsboxError(`no such object: ${JSON.stringify(name)}`);
      }
    };

    const out: Record<string, unknown>[] = [];
    const errors: Error[] = [];
    for (const name of this.latest ? [undefined] : this.names) {
      const tries: ((n: string) => Promise<Record<string, unknown>>)[] =
        kind === 'container' ? [asContainer] : kind === 'image' ? [asImage] : kind === 'volume' ? [asVolume] : [asContainer, asImage, asVolume];
      let found: Record<string, unknown> | undefined;
      try {
        for (const attempt of name === undefined ? [() => asContainer(undefined)] : tries.map((t) => () => t(name))) {
          try {
            found = await attempt();
            break;
          } catch (err) {
            if (err !== notFound) throw err;
          }
        }
        if (!found) throw name === undefined ? new TsboxError('no containers to act on with --latest: no such container') : missing(name);
        out.push(found);
      } catch (err) {
        errors.push(err as Error);
      }
    }

    if (this.format !== undefined && this.format !== 'json') this.context.stdout.write(formatTemplate(this.format, out));
    else this.context.stdout.write(formatJson(out));
    if (errors.length === 0) return 0;
    // podman prints what it found, and every error; the last one goes through BaseCommand
    for (const err of errors.slice(0, -1)) this.context.stderr.write(`Error: ${err.message}\n`);
    throw errors[errors.length - 1];
  }
}
