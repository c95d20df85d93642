// The bundle's entry point (bin/tsbox): runs the one bundle the command line
// needs, dist/bundle/cmd-<module>.cjs holding that command alone, or all.cjs
// (every command) for help and mistyped command lines. Node's module loader
// costs about a millisecond per file, so a command's own self-contained
// bundle starts faster than shared chunks; the bundles are CommonJS because
// node's ES module loader alone costs some 5 ms at start, and CommonJS lets
// code-cache.ts hand V8 the code it compiled for the bundle last time.
import { join } from 'node:path';
import { runBundle } from './code-cache.js';
import { takeGlobalOptions } from './global-options.js';
import { entryFor } from './command-table.js';

/** Runs the bundle in `bundleDir` that the command line `args` (process.argv without node and the script) needs. */
export function dispatch(bundleDir: string, args: string[]): void {
  let argv: string[] = [];
  try {
    argv = takeGlobalOptions(args);
  } catch {
    // all.cjs says what is wrong with them
  }
  // `tsbox --version` is `tsbox version` in brief (cli.ts)
  const entry = argv[0] === '--version' || argv[0] === '-v' ? { module: 'version' } : entryFor(argv);
  runBundle(join(bundleDir, entry ? `cmd-${entry.module}.cjs` : 'all.cjs'));
}
