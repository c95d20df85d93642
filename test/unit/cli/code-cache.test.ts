// cli/code-cache.ts: a command's bundle runs with the code V8 compiled for it
// on the run before, kept per bundle build; a bad or unwritable cache costs
// only the speed-up. Each case runs the loader in a node process of its own,
// as bin/tsbox does (the cache is written when the process exits).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, runProgram } from '../../lib/tsbox.js';

const LOADER = join(REPO_ROOT, 'dist', 'cli', 'code-cache.js');
let root: string;
let bundle: string;
let cacheHome: string;

test.before.each(() => {
  root = mkdtempSync(join(tmpdir(), 'tsbox-code-cache-'));
  bundle = join(root, 'cmd-demo.cjs');
  cacheHome = join(root, 'cache');
  // what a bundle may rely on: require, module, __filename, and functions compiled as it runs
  writeFileSync(bundle, "const { basename } = require('node:path');\nfunction twice(x) { return x * 2; }\nmodule.exports.ok = true;\nconsole.log(`ran ${basename(__filename)} ${twice(21)}`);\n");
  writeFileSync(join(root, 'build-id'), `${'a'.repeat(32)}\n`);
});
test.after.each(() => rmSync(root, { recursive: true, force: true }));

/** Runs the bundle through the loader; stdout's lines: the bundle's, then what became of the cache. */
async function run(env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: cacheHome }): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const script = `import { runBundle } from ${JSON.stringify(LOADER)};\nconsole.log(runBundle(${JSON.stringify(bundle)}));\n`;
  const r = await runProgram(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, ...env }, timeoutMs: 30_000 });
  return { code: r.code, lines: r.stdout.trim().split('\n'), stderr: r.stderr };
}

const cacheFiles = () => readdirSync(join(cacheHome, 'tsbox', 'code'));

test('the first run compiles and keeps the code, private to the user; the next run uses it', async () => {
  const first = await run();
  assert.is(first.code, 0, first.stderr);
  assert.equal(first.lines, ['ran cmd-demo.cjs 42', 'miss']);
  const files = cacheFiles();
  assert.is(files.length, 1);
  assert.ok(files[0]!.startsWith(`cmd-demo.cjs-${process.version}-`), files[0]);
  assert.is(statSync(join(cacheHome, 'tsbox', 'code')).mode & 0o777, 0o700);
  assert.is(statSync(join(cacheHome, 'tsbox', 'code', files[0]!)).mode & 0o777, 0o600);
  const second = await run();
  assert.equal(second.lines, ['ran cmd-demo.cjs 42', 'hit']);
});

test('a damaged cache is refused by V8 and replaced; the bundle runs all the same', async () => {
  await run();
  const file = join(cacheHome, 'tsbox', 'code', cacheFiles()[0]!);
  writeFileSync(file, Buffer.alloc(4096, 0x5a));
  const damaged = await run();
  assert.is(damaged.code, 0, damaged.stderr);
  assert.equal(damaged.lines, ['ran cmd-demo.cjs 42', 'rejected']);
  assert.not.equal(readFileSync(file)[0], 0x5a, 'written anew');
  assert.equal((await run()).lines, ['ran cmd-demo.cjs 42', 'hit']);
});

test('a rebuilt bundle gets a cache of its own, even at the same size and mtime, and the old one is removed', async () => {
  await run();
  const before = cacheFiles();
  const { size, mtime } = statSync(bundle);
  // same length, other code: V8 checks only a source's length, so the build id must tell them apart
  const old = readFileSync(bundle, 'utf8');
  writeFileSync(bundle, old.replace('twice(21)', 'twice(12)'));
  utimesSync(bundle, mtime, mtime);
  assert.is(statSync(bundle).size, size);
  writeFileSync(join(root, 'build-id'), `${'b'.repeat(32)}\n`);
  const rebuilt = await run();
  assert.equal(rebuilt.lines, ['ran cmd-demo.cjs 24', 'miss']);
  const after = cacheFiles();
  assert.is(after.length, 1);
  assert.not.equal(after, before);
  assert.equal((await run()).lines, ['ran cmd-demo.cjs 24', 'hit']);
});

test('a bundle without a build id runs without a cache', async () => {
  rmSync(join(root, 'build-id'));
  const r = await run();
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.lines, ['ran cmd-demo.cjs 42', 'off']);
});

test('no usable cache directory: the bundle runs and says nothing about it', async () => {
  const notADir = join(root, 'file');
  writeFileSync(notADir, '');
  const r = await run({ XDG_CACHE_HOME: notADir });
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.lines, ['ran cmd-demo.cjs 42', 'miss']);
  assert.is(r.stderr, '');
  if (process.getuid?.() !== 0) {
    // a read-only cache directory (root would write to it regardless)
    await run();
    rmSync(join(cacheHome, 'tsbox', 'code'), { recursive: true });
    chmodSync(join(cacheHome, 'tsbox'), 0o500);
    const readOnly = await run();
    chmodSync(join(cacheHome, 'tsbox'), 0o700);
    assert.is(readOnly.code, 0, readOnly.stderr);
    assert.equal(readOnly.lines, ['ran cmd-demo.cjs 42', 'miss']);
  }
});

test('without XDG_CACHE_HOME the cache is under $HOME/.cache', async () => {
  const home = join(root, 'home');
  const r = await run({ HOME: home });
  assert.is(r.code, 0, r.stderr);
  assert.is(readdirSync(join(home, '.cache', 'tsbox', 'code')).length, 1);
});

test('the command bundles leave stdin out of clipanion\'s default context (scripts/bundle.mjs): a command that never reads stdin never opens it', () => {
  for (const bundle of ['cmd-ps.cjs', 'cmd-exec.cjs', 'cmd-run.cjs']) {
    const source = readFileSync(join(REPO_ROOT, 'dist', 'bundle', bundle), 'utf8');
    const start = source.indexOf('.defaultContext = {');
    assert.ok(start > 0, `${bundle} has clipanion's default context`);
    const block = source.slice(start, source.indexOf('};', start));
    assert.ok(block.includes('stdout: process.stdout'), block);
    assert.not.ok(block.includes('stdin'), `${bundle}: ${block}`);
  }
});

test.run();
