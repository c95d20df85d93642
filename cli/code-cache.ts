// Runs one CommonJS bundle of dist/bundle/ with V8's code cache: the bytecode
// V8 compiled for it on an earlier run, kept in $XDG_CACHE_HOME/tsbox/code/.
// Parsing and compiling a command's bundle is a fair share of a short
// command's time (ps, exec), and Node 20 has no code cache of its own for
// user code. The cache is taken at exit, after the command ran, so it holds
// the functions that run compiled too, not only the top level (which is
// what require hooks such as v8-compile-cache store, and why they do not
// help a bundle whose code is all inside functions).
//
// A cache is only ever a speed-up: any failure to read or write it is
// ignored, and V8 itself refuses data made by another V8 version or with
// other flags (then a fresh one is written).
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

type CommonJsBody = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

/** Where code caches live: $XDG_CACHE_HOME/tsbox/code, as podman keeps its caches under the XDG cache directory. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, '.cache') : safeHomedir());
  return base ? join(base, 'tsbox', 'code') : undefined;
}

function safeHomedir(): string | undefined {
  try {
    return join(homedir(), '.cache');
  } catch {
    return undefined;
  }
}

/**
 * The cache file for one build of one bundle: the build's id (BUILD_ID_FILE)
 * and node's version name it, so a rebuilt bundle or another node gets its
 * own. Not the bundle's size and mtime: V8 checks only a source's length, and
 * npm gives every installed file the same mtime, so a new release of the same
 * size would run the old release's code.
 */
function cacheFileName(file: string, buildId: string): string {
  return `${basename(file)}-${process.version}-${process.arch}-${buildId}.v8`;
}

/** Written by scripts/bundle.mjs next to the bundles: a digest of them all. */
export const BUILD_ID_FILE = 'build-id';

function buildIdOf(file: string): string | undefined {
  try {
    const id = readFileSync(join(dirname(file), BUILD_ID_FILE), 'utf8').trim();
    return /^[0-9a-f]{16,64}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** What became of the code cache on one run: none kept (no cache directory), none yet, V8's refusal of it, or used. */
export type CodeCacheUse = 'off' | 'miss' | 'rejected' | 'hit';

/** Runs the CommonJS bundle `file` as node would require it, with the code cache when there is one. */
export function runBundle(file: string): CodeCacheUse {
  const source = readFileSync(file, 'utf8');
  // no build id (a bundle not built by scripts/bundle.mjs): no cache, rather than a wrong one
  const buildId = buildIdOf(file);
  const dir = codeCacheDir();
  const cacheFile = dir && buildId ? join(dir, cacheFileName(file, buildId)) : undefined;
  let cachedData: Buffer | undefined;
  if (cacheFile) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // none yet
    }
  }
  // node's own CommonJS wrapper, so the bundle sees require, module and __filename
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    const target = cacheFile;
    process.once('exit', () => writeCache(target, `${basename(file)}-`, script));
  }
  const body = script.runInThisContext() as CommonJsBody;
  const module = { exports: {} };
  body.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  if (!cacheFile) return 'off';
  if (!cachedData) return 'miss';
  return script.cachedDataRejected ? 'rejected' : 'hit';
}

function writeCache(cacheFile: string, bundlePrefix: string, script: Script): void {
  try {
    const dir = dirname(cacheFile);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // a private name, then rename: two commands writing at once leave one whole file
    const temp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
    renameSync(temp, cacheFile);
    // caches of earlier builds of the same bundle are of no more use
    const name = basename(cacheFile);
    for (const entry of readdirSync(dir)) {
      if (entry !== name && entry.startsWith(bundlePrefix) && entry.endsWith('.v8')) unlinkSync(join(dir, entry));
    }
  } catch {
    // no cache this time: a read-only or full home costs only the speed-up
  }
}
