// Bundles the compiled CLI (dist/) into dist/bundle/ for a faster start.
// Node's ES module loader costs about a millisecond per file, more than the
// bytes do: so every command gets a bundle of its own holding it and all it
// may load (cmd-<module>.cjs), and the entry point (main.cjs, cli/dispatch.ts,
// required by bin/tsbox) only picks one; all.cjs holds every command, for
// help and mistyped command lines.
//
// The scripts tsbox starts as separate node processes (under the helper, in
// the user namespace) are entry points too; they are found next to the
// bundle that names them (new URL('./cp-worker.js', import.meta.url)).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const { COMMAND_TABLE } = await import(new URL('../dist/cli/command-table.js', import.meta.url).href);

// One small module per command: run the CLI with that command alone.
const entriesDir = 'dist/cli/entries';
rmSync(entriesDir, { recursive: true, force: true });
mkdirSync(entriesDir, { recursive: true });
const commandEntries = {
  main: 'dist/cli/dispatch.js',
  all: 'dist/cli/main.js',
};
for (const { module, name } of COMMAND_TABLE) {
  const file = `${entriesDir}/${module}.js`;
  writeFileSync(file, `import { runCli } from '../cli.js';\nimport { ${name} } from '../commands/${module}.js';\n\nrunCli([${name}]);\n`);
  commandEntries[`cmd-${module}`] = file;
}

// clipanion's default context takes process.stdin when it loads, which makes
// fd 0 a stream (~2 ms for a file or /dev/null; a terminal is reopened) for
// every command, though most never read it: the bundles leave it out, and
// commands read process.stdin themselves (cli/base.ts, BaseCommand.stdin).
const CLIPANION_STDIN = '    stdin: process.stdin,\n';
const noEagerStdin = {
  name: 'clipanion-no-eager-stdin',
  setup(b) {
    b.onLoad({ filter: /clipanion[\\/]lib[\\/]advanced[\\/]Cli\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      // a clipanion that no longer has this line needs this plugin looked at again
      if (source.split(CLIPANION_STDIN).length !== 2) throw new Error(`${args.path}: clipanion's default context changed; review scripts/bundle.mjs`);
      return { contents: source.replace(CLIPANION_STDIN, ''), loader: 'js' };
    });
  },
};

const outdir = 'dist/bundle';
rmSync(outdir, { recursive: true, force: true });
const common = { bundle: true, splitting: false, platform: 'node', target: 'node20', logLevel: 'warning' };

// The commands: CommonJS (.cjs, as package.json says "module"), which node
// starts some 5 ms sooner than an ES module and which cli/code-cache.ts can
// run with V8's code cache (cli/code-cache.ts). A bundled module that asks for import.meta.url
// gets the bundle's own URL.
await build({
  ...common,
  entryPoints: commandEntries,
  outdir,
  format: 'cjs',
  plugins: [noEagerStdin],
  // import() of node's own modules becomes require(): a script run by the
  // code cache has no ES module loader to hand import() to
  supported: { 'dynamic-import': false },
  outExtension: { '.js': '.cjs' },
  define: { 'import.meta.url': '__tsboxBundleUrl' },
  banner: { js: "const __tsboxBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// The scripts tsbox starts as processes of their own, named by the modules
// that start them (new URL('./cp-worker.js', import.meta.url)): ES modules.
await build({
  ...common,
  entryPoints: {
    'ns-task-main': 'dist/core/system/ns-task-main.js',
    'cp-worker': 'dist/core/container/cp-worker.js',
    'diff-worker': 'dist/core/container/diff-worker.js',
  },
  outdir,
  format: 'esm',
  // the CommonJS dependencies (undici, clipanion) require node's own modules
  banner: { js: "import { createRequire as __tsboxCreateRequire } from 'node:module'; const require = __tsboxCreateRequire(import.meta.url);" },
});


// Each command bundle's argument parser, compiled now rather than on every
// run (cli/parser-cache.ts): clipanion's machine for run's options takes
// ~11 ms to build.
const { newCli } = await import(new URL('../dist/cli/cli.js', import.meta.url).href);
const { compiledParser } = await import(new URL('../dist/cli/parser-cache.js', import.meta.url).href);
for (const { module, name } of COMMAND_TABLE) {
  const command = (await import(new URL(`../dist/cli/commands/${module}.js`, import.meta.url).href))[name];
  writeFileSync(`${outdir}/cmd-${module}.parser`, compiledParser(newCli([command])));
}

// The build's id, which names the code caches of these bundles
// (cli/code-cache.ts): a digest of every bundle, so that any change to any of
// them, even one of the same size, gets caches of its own.
const buildHash = createHash('sha256');
for (const name of readdirSync(outdir).sort()) buildHash.update(name).update(readFileSync(`${outdir}/${name}`));
writeFileSync(`${outdir}/build-id`, `${buildHash.digest('hex').slice(0, 32)}\n`);
