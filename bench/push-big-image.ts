// Builds the benchmark image (test/lib/fixtures.ts `big`) once, caching the
// layout in --cache, and pushes it to a registry with skopeo. Prints one
// JSON line: {reference, layers, compressedBytes, unpackedBytes, buildSeconds, pushSeconds}.
//
//   node dist/bench/push-big-image.js --registry 127.0.0.1:PORT [--size-mb 1024] [--layers 5]
//                                     [--cache DIR] [--repository bench/big]
import { buildBig, pushBig } from '../test/lib/fixtures.js';

function option(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const registry = option('registry');
  const sizeMB = Number(option('size-mb', '1024'));
  const layers = Number(option('layers', '5'));
  const cacheDir = option('cache', '');
  const repository = option('repository', 'bench/big');
  if (!(sizeMB > 0) || !(layers > 0)) throw new Error('--size-mb and --layers must be positive');
  const options = { sizeMB, layers, repository, ...(cacheDir ? { cacheDir } : {}) };
  const built = Date.now();
  const layout = await buildBig(options);
  const pushed = Date.now();
  const reference = await pushBig(registry, options);
  const done = Date.now();
  process.stdout.write(
    JSON.stringify({
      reference,
      layers: layout.layers.length,
      compressedBytes: layout.layers.reduce((n, l) => n + l.size, 0),
      unpackedBytes: layout.layers.reduce((n, l) => n + l.tarSize, 0),
      buildSeconds: (pushed - built) / 1000,
      pushSeconds: (done - pushed) / 1000,
    }) + '\n',
  );
}

main().catch((err: Error) => {
  process.stderr.write(`push-big-image: ${err.message}\n`);
  process.exit(1);
});
