// Bundles the compiled CLI (dist/) into dist/bundle/ for a faster start.
// Node's ES module loader costs about a millisecond per file, more than the
// bytes do: so every command gets a bundle of its own holding it and all it
// may load (cmd-<module>.js), and the entry point (main.js, cli/dispatch.ts)
// only picks one; all.js holds every command, for help and mistyped command
// lines.
//
// The scripts tsbox starts as separate node processes (under the helper, in
// the user namespace) are entry points too; they are found next to the
// bundle that names them (new URL('./cp-worker.js', import.meta.url)).
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

const { COMMAND_TABLE } = await import(new URL('../dist/cli/command-table.js', import.meta.url).href);

// One small module per command: run the CLI with that command alone.
const entriesDir = 'dist/cli/entries';
rmSync(entriesDir, { recursive: true, force: true });
mkdirSync(entriesDir, { recursive: true });
const entryPoints = {
  main: 'dist/cli/dispatch.js',
  all: 'dist/cli/main.js',
  'ns-task-main': 'dist/core/system/ns-task-main.js',
  'cp-worker': 'dist/core/container/cp-worker.js',
  'diff-worker': 'dist/core/container/diff-worker.js',
};
for (const { module, name } of COMMAND_TABLE) {
  const file = `${entriesDir}/${module}.js`;
  writeFileSync(file, `import { runCli } from '../cli.js';\nimport { ${name} } from '../commands/${module}.js';\n\nrunCli([${name}]);\n`);
  entryPoints[`cmd-${module}`] = file;
}

const outdir = 'dist/bundle';
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints,
  outdir,
  bundle: true,
  splitting: false,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // the CommonJS dependencies (undici, clipanion) require node's own modules
  banner: { js: "import { createRequire as __tsboxCreateRequire } from 'node:module'; const require = __tsboxCreateRequire(import.meta.url);" },
});
