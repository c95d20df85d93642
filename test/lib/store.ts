// A private tsbox store for a test file, against a test registry, and ways to
// look into it from outside the user namespace as the kernel sees it.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempStore } from './tsbox.js';
import { runInUserNamespace } from '../../core/userns/helper.js';

export interface TestStore {
  root: string;
  env: NodeJS.ProcessEnv;
  /** store root (TSBOX_ROOT) */
  store: string;
  /** Writes registries.conf: the registry is insecure, and docker.io is mirrored to it. */
  useRegistry(host: string, options?: { mirrorDockerIo?: boolean }): void;
  /** image.json records. */
  images(): { id: string; names: string[]; layers: string[]; digest: string }[];
  /** diff directory of a layer by chain id. */
  layerDiff(chainId: string): string;
  /** Names under tmp/ and downloads/ (work in progress). */
  leftovers(): string[];
  /** Removes everything, inside the user namespace (layer files belong to mapped ids). */
  cleanup(): Promise<void>;
}

export function createTestStore(): TestStore {
  const base = tempStore();
  mkdirSync(base.env.XDG_RUNTIME_DIR!, { recursive: true, mode: 0o700 });
  const store = base.env.TSBOX_ROOT!;
  return {
    root: base.root,
    env: base.env,
    store,
    useRegistry(host, options = {}) {
      const mirror = options.mirrorDockerIo
        ? `\n[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n\n[[registry.mirror]]\nlocation = "${host}"\ninsecure = true\n`
        : '';
      writeFileSync(
        base.env.CONTAINERS_REGISTRIES_CONF!,
        `unqualified-search-registries = ["docker.io"]\n\n[[registry]]\nlocation = "${host}"\ninsecure = true\n${mirror}`,
      );
    },
    images() {
      const dir = join(store, 'images');
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((name) => /^[0-9a-f]{64}$/.test(name))
        .map((name) => JSON.parse(readFileSync(join(dir, name, 'image.json'), 'utf8')));
    },
    layerDiff(chainId) {
      return join(store, 'layers', chainId.replace(/^sha256:/, ''), 'diff');
    },
    leftovers() {
      const out: string[] = [];
      for (const sub of ['tmp', 'downloads']) {
        const dir = join(store, sub);
        if (existsSync(dir)) out.push(...readdirSync(dir).map((n) => `${sub}/${n}`));
      }
      return out;
    },
    async cleanup() {
      // Layer files belong to the subordinate ids: remove them from inside the
      // namespace tsbox itself uses (its mapping, its helper).
      if (existsSync(base.root)) await runInUserNamespace('rm', ['-rf', base.root], { signal: AbortSignal.timeout(60_000) }).catch(() => {});
      base.cleanup();
    },
  };
}
