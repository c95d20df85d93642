import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';
import type { StoreMapping } from '../../core/store/index.js';

export class RmiCommand extends BaseCommand {
  static override paths = [['rmi'], ['image', 'rm']];

  static override usage = Command.Usage({
    category: 'Images',
    description: 'remove one or more images from local storage',
    details: `
      An IMAGE given by name loses that name (\`Untagged:\`) and is deleted once it has no name left (\`Deleted:\`). An image given by id is deleted; when it still has several names that takes \`--force\`. Layers no other image uses are then removed.

      An image that containers were made from is not removed (podman's rule); with \`--force\` those containers are removed first, unless one of them is running.

      Exit status: 0 when all were removed, 1 when one of them did not exist, 2 when one is used by a container, 125 for any other error.
    `,
    examples: [
      ['Remove an image', '$0 rmi alpine'],
      ['Remove every image', '$0 rmi -a'],
      ['Remove an image with several names by id', '$0 rmi -f 2c6d21737d83'],
    ],
  });

  force = Option.Boolean('-f,--force', false, {
    description: 'Remove an image given by id even when it has several names, and the containers made from it',
  });
  all = Option.Boolean('-a,--all', false, { description: 'Remove all images' });
  ignore = Option.Boolean('-i,--ignore', false, { description: 'Ignore images that do not exist' });
  images = Option.Rest({ name: 'IMAGE' });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    if (this.all === (this.images.length > 0)) {
      throw new TsboxError(this.all ? 'when using the --all switch, you may not pass any images names or IDs' : 'image name or ID must be specified');
    }
    const { createReporter } = await import('../reporter.js');
    const { inUserNamespace } = await import('../../core/userns/session.js');
    const reporter = createReporter({ quiet: true, stderr: this.context.stderr });
    // Layers hold files owned by mapped ids: only inside the namespace can they be deleted.
    return inUserNamespace(reporter, (session) => this.remove(session.mapping));
  }

  private async remove(mapping: StoreMapping): Promise<number> {
    const { openUserStore } = await import('../open-store.js');
    const { ImageNotFoundError } = await import('../../core/store/index.js');
    const { TsboxError } = await import('../../core/errors.js');
    const { parseReference, formatReference } = await import('../../core/reference/index.js');
    const store = await openUserStore(mapping);
    const out = this.context.stdout;
    const errors: Error[] = [];
    let notFound = false;

    const targets = this.all ? (await store.listImages()).map((i) => i.id) : this.images;
    for (const target of targets) {
      try {
        const image = await store.findImage(target);
        const byId = this.all || isIdOf(target, image.id);
        if (!byId) {
          // By name: that name goes; the image goes with its last name.
          const name = image.names.find((n) => n === formatReference(parseReference(target))) ?? matchingName(image.names, target);
          if (name !== undefined && image.names.length > 1) {
            await store.untagImage(image.id, name);
            out.write(`Untagged: ${name}\n`);
            continue;
          }
        } else if (image.names.length > 1 && !this.force && !this.all) {
          throw new TsboxError(
            `unable to delete image ${JSON.stringify(image.id)} by ID with more than one tag (${JSON.stringify(image.names)}): please force removal`,
          );
        }
        await this.releaseFromContainers(image.id);
        for (const name of image.names) out.write(`Untagged: ${name}\n`);
        await store.removeImage(image.id);
        out.write(`Deleted: ${image.id}\n`);
      } catch (err) {
        if (err instanceof ImageNotFoundError) {
          if (this.ignore) continue;
          notFound = true;
        }
        errors.push(err as Error);
      }
    }
    await store.removeUnusedLayers();
    if (errors.length === 0) return 0;
    // Every error but the last is printed here; the last goes through BaseCommand like any error.
    for (const err of errors.slice(0, -1)) this.context.stderr.write(`Error: ${err instanceof TsboxError ? err.userMessage() : err.message}\n`);
    const last = errors[errors.length - 1]!;
    if (notFound && errors.every((e) => e instanceof ImageNotFoundError)) {
      throw new TsboxError(last.message, { exitCode: 1, ...(last instanceof TsboxError && last.hint ? { hint: last.hint } : {}) });
    }
    throw last;
  }

  /**
   * An image containers were made from stays (podman's error, exit 2); with
   * --force those containers go first — unless one runs, which is refused.
   */
  private async releaseFromContainers(imageId: string): Promise<void> {
    const { TsboxError } = await import('../../core/errors.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { containersUsingImage } = await import('../../core/container/list.js');
    const { isActive } = await import('../../core/container/state.js');
    const containers = new ContainerStore();
    const users = await containersUsingImage(containers, imageId);
    if (users.length === 0) return;
    if (!this.force) {
      throw new TsboxError(`image used by ${users[0]!.record.Id}: image is in use by a container: consider listing external containers and force-removing image`, {
        exitCode: 2,
      });
    }
    const running = users.find((e) => isActive(e.state));
    if (running) {
      throw new TsboxError(`image used by ${running.record.Id}: image is in use by a running container`, {
        exitCode: 2,
        hint: `stop it first: tsbox stop ${running.record.Name}`,
      });
    }
    const { removeContainer } = await import('../../core/container/remove.js');
    for (const { record } of users) await removeContainer(containers, record.Id, { warn: (m) => this.context.stderr.write(`WARN[0000] ${m}\n`) });
  }
}

/** True when `target` is the image's id, `sha256:` id or an id prefix rather than one of its names. */
function isIdOf(target: string, id: string): boolean {
  const bare = target.startsWith('sha256:') ? target.slice(7) : target;
  return /^[0-9a-f]{3,64}$/.test(bare) && id.startsWith(bare);
}

/** The image's name that a short name like `alpine` or `app:v1` stands for. */
function matchingName(names: string[], target: string): string | undefined {
  const withTag = /:[^/]*$/.test(target) ? target : `${target}:latest`;
  return names.find((n) => n.endsWith(`/${withTag}`) || n === withTag);
}
