// The bundle's entry point (bin/tsbox): loads the one bundle the command line
// needs, dist/bundle/cmd-<module>.js holding that command alone, or all.js
// (every command) for help and mistyped command lines. Node's module loader
// costs about a millisecond per file, so a command's own self-contained
// bundle starts faster than shared chunks.
import { takeGlobalOptions } from './global-options.js';
import { entryFor } from './command-table.js';

let argv: string[] = [];
try {
  argv = takeGlobalOptions(process.argv.slice(2));
} catch {
  // all.js says what is wrong with them
}
// `tsbox --version` is `tsbox version` in brief (cli.ts)
const entry = argv[0] === '--version' || argv[0] === '-v' ? { module: 'version' } : entryFor(argv);
await import(new URL(entry ? `./cmd-${entry.module}.js` : './all.js', import.meta.url).href);
