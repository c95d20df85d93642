// Bundles the compiled CLI (dist/) into dist/bundle/ for a faster start:
// Node's ES module loader costs more per file than per byte, and `tsbox ps`
// otherwise reads some 85 modules before it does anything. Commands keep
// loading core/ lazily: dynamic imports become chunks loaded on demand.
//
// The scripts tsbox starts as separate node processes (under the helper, in
// the user namespace) are entry points too; they are found next to the
// chunk that names them (new URL('./cp-worker.js', import.meta.url)).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outdir = 'dist/bundle';
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: {
    main: 'dist/cli/main.js',
    'ns-task-main': 'dist/core/system/ns-task-main.js',
    'cp-worker': 'dist/core/container/cp-worker.js',
    'diff-worker': 'dist/core/container/diff-worker.js',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // the CommonJS dependencies (undici, clipanion) require node's own modules
  banner: { js: "import { createRequire as __tsboxCreateRequire } from 'node:module'; const require = __tsboxCreateRequire(import.meta.url);" },
});
