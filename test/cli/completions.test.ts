// The generated completions in the real shells: bash (the completion
// function with COMP_LINE/COMP_WORDS set, as bash's `complete -F` calls it),
// zsh (the file found through $fpath by compinit, its function called with
// words/CURRENT set and compadd/_files standing in for the completion
// system's builtins, which run only inside the line editor) and fish
// (`complete -C`, fish's own answer to a command line). Live names come from
// `tsbox __complete` over a temp store with an image and containers made
// through the store APIs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerStore, newContainerId } from '../../core/runtime/containers.js';
import { buildSpec, type ContainerRecord } from '../../core/runtime/spec.js';
import { initialState, processStartTime, writeState, type ContainerState } from '../../core/container/state.js';
import { openStore } from '../../core/store/index.js';
import { VolumeStore } from '../../core/volume/volumes.js';
import { currentMapping } from '../../core/userns/mapping.js';
import { REPO_ROOT, TSBOX_BIN, runProgram, runTsbox, tempStore } from '../lib/tsbox.js';
import { waitFor } from '../lib/timeout.js';
import { addFakeImage } from '../unit/store/fixtures.js';

const BASH = join(REPO_ROOT, 'completions', 'bash', 'tsbox');
const ZSH_DIR = join(REPO_ROOT, 'completions', 'zsh');
const FISH = join(REPO_ROOT, 'completions', 'fish', 'tsbox.fish');

let temp: ReturnType<typeof tempStore>;
let sleeper: ChildProcess;
/** tsbox as the shells call it: a small script on PATH, so that `tsbox` in the command line is this build */
let binDir: string;

async function makeContainer(containers: ContainerStore, name: string, state: Partial<ContainerState>): Promise<void> {
  const id = newContainerId();
  const record: ContainerRecord = {
    Id: id,
    Name: name,
    Image: 'ab'.repeat(32),
    ImageName: 'docker.io/library/alpine:latest',
    Created: new Date().toISOString(),
    State: 'created',
    Spec: buildSpec({ config: { Cmd: ['sleep', '1000'] }, rootfs: { type: 'layers', diff_ids: [] } }, { id, command: [], layers: ['l'.repeat(64)], network: { mode: 'slirp4netns', ports: [] } }),
  };
  await containers.create(record);
  await writeState(containers, id, { ...initialState(), ...state });
}

test.before(async () => {
  temp = tempStore();
  const root = temp.env.TSBOX_ROOT!;
  const mapping = currentMapping();
  const store = await openStore({ root, mapping: { uids: mapping.uids, gids: mapping.gids } });
  await addFakeImage(store, { names: ['docker.io/library/alpine:3.20', 'localhost/webapp:v1'], layers: ['a'] });
  sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
  await waitFor(() => (sleeper.pid && processStartTime(sleeper.pid) ? true : undefined), 5000, 'the sleep to start');
  const containers = new ContainerStore(root);
  await makeContainer(containers, 'webserver', {
    Status: 'running',
    Pid: sleeper.pid!,
    MonitorPid: sleeper.pid!,
    MonitorStart: processStartTime(sleeper.pid!)!,
    BootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    StartedAt: new Date().toISOString(),
  });
  await makeContainer(containers, 'worker-done', { Status: 'exited', ExitCode: 0 });
  await new VolumeStore(join(root, 'volumes')).create({ name: 'dbdata' });
  binDir = join(temp.root, 'bin');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'tsbox'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -- ${JSON.stringify(TSBOX_BIN)} "$@"\n`, { mode: 0o755 });
});

test.after(() => {
  sleeper?.kill('SIGKILL');
  temp?.cleanup();
});

function shellEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...temp.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: temp.root };
}

/** bash: what `_tsbox` puts in COMPREPLY for a command line ending at the cursor. */
async function bash(line: string): Promise<string[]> {
  const script = [
    `source ${JSON.stringify(BASH)}`,
    'COMP_LINE=$1; COMP_POINT=${#1}',
    'read -ra COMP_WORDS <<<"$1"',
    'COMP_CWORD=${#COMP_WORDS[@]}; [[ $1 =~ [[:space:]]$ ]] || COMP_CWORD=$((COMP_CWORD - 1))',
    'COMPREPLY=()',
    '_tsbox tsbox "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = await runProgram('bash', ['--norc', '-c', script, 'bash', line], { env: shellEnv(), timeoutMs: 30_000 });
  assert.is(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** zsh: compinit finds _tsbox through $fpath; compadd prints what it is given that matches the word. */
async function zsh(line: string): Promise<string[]> {
  const script = [
    `fpath=(${ZSH_DIR} $fpath)`,
    `autoload -Uz compinit && compinit -u -d ${JSON.stringify(join(temp.root, 'zcompdump'))}`,
    '[[ $_comps[tsbox] == _tsbox ]] || { print -u2 "compinit did not register _tsbox for tsbox"; exit 3 }',
    // compadd and _files work only inside the line editor; these print the candidates instead
    'compadd() { local p=${words[CURRENT]}; while (( $# )); do case $1 in -d|-P|-S|-X|-J|-V) shift 2;; --) shift; break;; -*) shift;; *) break;; esac; done; local c; for c in "$@"; do [[ $c == "$p"* ]] && print -r -- $c; done; }',
    "_files() { print -r -- '<files>'; }",
    'words=(${=1}); [[ $1 == *" " ]] && words+=("")',
    'CURRENT=${#words}',
    '_tsbox',
  ].join('\n');
  const r = await runProgram('zsh', ['-f', '-c', script, 'zsh', line], { env: shellEnv(), timeoutMs: 30_000 });
  assert.is(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** fish: `complete -C`, candidates without their descriptions. */
async function fish(line: string): Promise<string[]> {
  // string replace fails when no line had a description: that is not an error here
  const script = `source ${FISH}; complete -C $argv[1] | string replace -r '\\t.*' ''; or true`;
  const r = await runProgram('fish', ['--no-config', '-c', script, line], { env: shellEnv(), timeoutMs: 30_000 });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
  return r.stdout.split('\n').filter((l) => l !== '');
}

const SHELLS = { bash, zsh, fish };
const sorted = (list: string[]) => [...list].sort();

for (const [shell, complete] of Object.entries(SHELLS)) {
  test(`${shell}: commands, multi-word commands and their second words`, async () => {
    assert.equal(await complete('tsbox ru'), ['run']);
    const top = await complete('tsbox ');
    for (const word of ['run', 'ps', 'exec', 'volume', 'container', 'image', 'system', 'images', 'rmi']) assert.ok(top.includes(word), `${word} in ${top.join(' ')}`);
    assert.not.ok(top.includes('__complete'), 'the hidden command is not offered');
    assert.equal(sorted(await complete('tsbox volume l')), ['list', 'ls']);
    const containerWords = await complete('tsbox container ');
    for (const word of ['run', 'rm', 'cleanup', 'prune', 'ls']) assert.ok(containerWords.includes(word), `container ${word}`);
    const system = await complete('tsbox system ');
    assert.ok(system.includes('info'), system.join(' '));
  });

  test(`${shell}: flags of run, and of a multi-word command`, async () => {
    const flags = await complete('tsbox run --');
    for (const flag of ['--rm', '--name', '--network', '--pull', '--restart', '--detach', '--volume', '--userns', '--stop-signal']) assert.ok(flags.includes(flag), `${flag} in ${flags.join(' ')}`);
    assert.equal(sorted(await complete('tsbox run --n')), ['--name', '--net', '--network']);
    assert.ok((await complete('tsbox volume ls -')).includes('--quiet'));
    // global options before the command
    assert.ok((await complete('tsbox --')).includes('--log-level'));
    assert.equal(sorted(await complete('tsbox --log-level ')), ['debug', 'error', 'info', 'warn']);
  });

  test(`${shell}: flag values`, async () => {
    assert.equal(sorted(await complete('tsbox run --network ')), ['host', 'none', 'pasta', 'private', 'slirp4netns']);
    assert.equal(sorted(await complete('tsbox run --rm --pull ')), ['always', 'missing', 'never']);
    assert.equal(sorted(await complete('tsbox create --restart ')), ['always', 'no', 'on-failure', 'unless-stopped']);
    assert.equal(await complete('tsbox kill -s SIGK'), ['SIGKILL']);
    assert.equal(await complete('tsbox run --stop-signal SIGTE'), ['SIGTERM']);
    assert.equal(sorted(await complete('tsbox ps --format ')), ['json', 'table']);
    assert.equal(await complete('tsbox run --userns '), ['keep-id']);
    // --flag=value in one word: bash replaces only what follows the '='
    const expected = shell === 'bash' ? ['pasta', 'private'] : ['--network=pasta', '--network=private'];
    assert.equal(sorted(await complete('tsbox run --network=p')), expected);
  });

  test(`${shell}: live image, container and volume names`, async () => {
    const images = await complete('tsbox run ');
    for (const name of ['alpine:3.20', 'docker.io/library/alpine:3.20', 'localhost/webapp:v1']) assert.ok(images.includes(name), `${name} in ${images.join(' ')}`);
    // after the flags and their values, the image is still the first argument
    assert.ok((await complete('tsbox run --rm --network host -e A=1 alp')).includes('alpine:3.20'));
    assert.ok((await complete('tsbox image inspect local')).includes('localhost/webapp:v1'));
    // an image name's ':' (bash completes only the part after it)
    const tagged = await complete('tsbox rmi alpine:3');
    assert.equal(tagged, shell === 'bash' ? ['3.20'] : ['alpine:3.20']);
    assert.equal(sorted(await complete('tsbox rm ')), ['webserver', 'worker-done']);
    assert.equal(await complete('tsbox logs wor'), ['worker-done']);
    assert.equal(await complete('tsbox container rm -f w'), sorted(['webserver', 'worker-done']));
    // only running containers for exec, stop, kill
    assert.equal(await complete('tsbox exec '), ['webserver']);
    assert.equal(await complete('tsbox stop -t 3 '), ['webserver']);
    assert.equal(await complete('tsbox volume rm '), ['dbdata']);
    // after the image, the words belong to the command run: no image names
    assert.not.ok((await complete('tsbox run alpine:3.20 ')).includes('alpine:3.20'));
  });
}

test('__complete: one name a line, filtered by prefix, and nothing for an unknown kind', async () => {
  const env = temp.env;
  const images = await runTsbox(['__complete', 'images'], { env, timeoutMs: 30_000 });
  assert.is(images.code, 0, images.stderr);
  assert.equal(images.stdout.split('\n').filter(Boolean).sort(), ['alpine:3.20', 'docker.io/library/alpine:3.20', 'localhost/webapp:v1']);
  const running = await runTsbox(['__complete', 'running-containers', 'web'], { env, timeoutMs: 30_000 });
  assert.is(running.stdout, 'webserver\n');
  const none = await runTsbox(['__complete', 'containers', 'zzz'], { env, timeoutMs: 30_000 });
  assert.is(none.stdout, '');
  const bad = await runTsbox(['__complete', 'nonsense'], { env, timeoutMs: 30_000 });
  assert.is(bad.stdout, '');
  assert.is.not(bad.code, 0);
  // an empty store: no error, no names
  const empty = await runTsbox(['__complete', 'images'], { env: { ...env, TSBOX_ROOT: join(temp.root, 'nothing-here') }, timeoutMs: 30_000 });
  assert.is(empty.code, 0, empty.stderr);
  assert.is(empty.stdout, '');
});

// a module hook that names every module loaded
function moduleHook(): string {
  const hooks = join(temp.root, 'hooks.mjs');
  writeFileSync(hooks, 'export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write(`LOADED ${r.url}\\n`); return r; }\n');
  const register = join(temp.root, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
  return register;
}

const UNWANTED = ['undici', 'tar-stream', '/core/registry/', '/core/pull/', '/core/userns/'];

test('__complete loads no registry client, tar or helper code and starts no process (the compiled modules)', async () => {
  const main = join(REPO_ROOT, 'dist', 'cli', 'main.js');
  const r = await runProgram(process.execPath, ['--import', moduleHook(), '--', main, '__complete', 'containers'], { env: { ...process.env, ...temp.env }, timeoutMs: 30_000 });
  assert.is(r.code, 0, r.stderr);
  const loaded = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice('LOADED '.length));
  assert.ok(loaded.some((url) => url.endsWith('/cli/commands/complete.js')), 'the hook saw the command load');
  for (const unwanted of [...UNWANTED, 'node:child_process']) {
    assert.not.ok(loaded.some((url) => url.includes(unwanted)), `${unwanted} loaded: ${loaded.filter((u) => u.includes(unwanted)).join(' ')}`);
  }
  assert.ok(r.stdout.split('\n').includes('webserver'));
});

test('__complete through bin/tsbox runs its own bundle, which holds no registry, tar or helper code', async () => {
  // the code cache names the bundles that ran (cli/code-cache.ts): one file per bundle
  const cache = join(temp.root, 'cache-complete');
  const r = await runProgram(process.execPath, ['--', TSBOX_BIN, '__complete', 'containers'], { env: { ...process.env, ...temp.env, XDG_CACHE_HOME: cache }, timeoutMs: 30_000 });
  assert.is(r.code, 0, r.stderr);
  const ran = readdirSync(join(cache, 'tsbox', 'code')).map((entry) => entry.slice(0, entry.indexOf('.cjs-') + '.cjs'.length));
  assert.equal(ran, ['cmd-complete.cjs']);
  // esbuild marks each module it bundles with a `// path` comment line
  const sources = readFileSync(join(REPO_ROOT, 'dist', 'bundle', 'cmd-complete.cjs'), 'utf8').split('\n').filter((line) => /^\/\/ (dist|node_modules)\//.test(line));
  assert.ok(sources.some((line) => line.includes('/cli/commands/complete.js')), 'the bundle holds the command');
  for (const unwanted of UNWANTED) {
    assert.not.ok(sources.some((line) => line.includes(unwanted)), `cmd-complete.cjs holds ${sources.filter((l) => l.includes(unwanted)).join(', ')}`);
  }
  assert.ok(r.stdout.split('\n').includes('webserver'));
});

test.run();
