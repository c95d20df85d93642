// `npm run gen-docs`: writes man/man1/ and completions/ from the registered
// commands. `node dist/cli/docs/generate.js DIR` writes them under DIR instead
// (the test compares that with what is committed).
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commands } from '../commands/index.js';
import { commandDocs } from './definitions.js';
import { manPages } from './man.js';
import { completionFiles } from './completions.js';

/** Every generated file, by path relative to the repository root. */
export function generatedFiles(): Map<string, string> {
  const docs = commandDocs(commands);
  const files = new Map<string, string>();
  // man/man1/: man-db finds it from a PATH that holds the checkout's bin/ (bin/../man)
  for (const page of manPages(docs)) files.set(join('man', 'man1', page.file), page.text);
  for (const completion of completionFiles(docs)) files.set(join('completions', completion.file), completion.text);
  return files;
}

export function writeGenerated(root: string): string[] {
  const files = generatedFiles();
  // pages of commands that are gone must go too
  try {
    for (const name of readdirSync(join(root, 'man', 'man1'))) if (name.endsWith('.1')) rmSync(join(root, 'man', 'man1', name));
  } catch {
    // no man/ yet
  }
  for (const [path, text] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return [...files.keys()];
}

/** The man pages package.json must list for `npm install -g` to link them: tsbox.1 first. */
export function manField(files: Iterable<string>): string[] {
  const pages = [...files].filter((path) => path.startsWith('man/')).sort();
  const first = 'man/man1/tsbox.1';
  return [...pages.filter((path) => path === first), ...pages.filter((path) => path !== first)];
}

/** Rewrites only the "man" list of package.json when the pages changed; says whether it did. */
function updatePackageMan(root: string, man: string[]): boolean {
  const path = join(root, 'package.json');
  const text = readFileSync(path, 'utf8');
  const current = (JSON.parse(text) as { man?: string[] }).man ?? [];
  if (JSON.stringify(current) === JSON.stringify(man)) return false;
  const list = `"man": [\n${man.map((page) => `    ${JSON.stringify(page)}`).join(',\n')}\n  ]`;
  if (!/"man": \[[^\]]*\]/.test(text)) throw new Error('package.json has no "man" list to update');
  writeFileSync(path, text.replace(/"man": \[[^\]]*\]/, list));
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = process.argv[2] ?? fileURLToPath(new URL('../../../', import.meta.url));
  const written = writeGenerated(root);
  process.stdout.write(`wrote ${written.length} files under ${root}\n`);
  if (process.argv[2] === undefined && updatePackageMan(root, manField(written))) process.stdout.write('updated the "man" list in package.json\n');
}
