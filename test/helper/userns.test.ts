// Drives `tsbox-helper userns` directly, as the unprivileged user, against the
// real kernel: id maps, identity inside, ownership seen outside, exit status,
// signals and file descriptors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HELPER_BIN, REPO_ROOT, runProgram } from '../lib/tsbox.js';
import { withTimeout } from '../lib/timeout.js';
import { currentMapping, findMappingTools, type IdRange } from '../../core/userns/mapping.js';
import { helperPath, runInUserNamespace, usernsHelperArgs } from '../../core/userns/helper.js';
import { conditionalTest } from '../lib/skip.js';

const uid = process.getuid!();
const gid = process.getgid!();
const mapping = currentMapping();
const foundTools = findMappingTools();
const tools = 'missing' in foundTools ? undefined : foundTools;

function whyNoUserns(): string | undefined {
  const probe = spawnSync(HELPER_BIN, ['userns', '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `cannot run ${HELPER_BIN}: ${probe.error.message} (run npm run build)`;
  if (probe.status !== 0) return `no user namespace can be made here: ${probe.stderr.trim()}`;
  return undefined;
}
const noUserns = whyNoUserns();
const noFullMapping = noUserns ?? (mapping.full && tools ? undefined : `no subordinate id mapping: ${mapping.warning}`);

const testIf = conditionalTest(test);

const fullArgs = () => ['userns', ...usernsHelperArgs(mapping, tools), '--'];

function inNamespace(command: string[], args = fullArgs()) {
  return runProgram(HELPER_BIN, [...args, ...command], { timeoutMs: 20_000 });
}

function parseIdMap(text: string): IdRange[] {
  return text
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

/** The outside id that inside id `id` maps to. */
function outsideOf(ranges: IdRange[], id: number): number {
  const r = ranges.find((r) => id >= r.inside && id < r.inside + r.count);
  assert.ok(r, `inside id ${id} is mapped`);
  return r.outside + (id - r.inside);
}

test('finds the helper in the package when TSBOX_HELPER is unset', () => {
  const saved = process.env.TSBOX_HELPER;
  delete process.env.TSBOX_HELPER;
  try {
    assert.is(helperPath(), HELPER_BIN);
  } finally {
    if (saved !== undefined) process.env.TSBOX_HELPER = saved;
  }
});

test('prints a version line', async () => {
  const r = await runProgram(HELPER_BIN, ['--version'], { timeoutMs: 10_000 });
  assert.is(r.code, 0);
  assert.match(r.stdout, /^tsbox-helper version \d+\.\d+\.\d+\n$/);
});

test('refuses an unknown option with exit 125 and one line', async () => {
  const r = await runProgram(HELPER_BIN, ['userns', '--bogus', '--', 'true'], { timeoutMs: 10_000 });
  assert.is(r.code, 125);
  assert.is(r.stderr, 'tsbox-helper: userns: unknown option --bogus\n');
});

test('refuses an option with too few arguments', async () => {
  const r = await runProgram(HELPER_BIN, ['userns', '--uid-map', '0', '1'], { timeoutMs: 10_000 });
  assert.is(r.code, 125);
  assert.is(r.stderr, 'tsbox-helper: --uid-map takes 3 arguments\n');
});

testIf(noFullMapping, 'shows the full subordinate range in uid_map and gid_map inside, written by newuidmap', async () => {
  const r = await inNamespace(['cat', '/proc/self/uid_map', '/proc/self/gid_map']);
  assert.is(r.code, 0, r.stderr);
  const lines = parseIdMap(r.stdout);
  const uids = lines.slice(0, mapping.uids.length);
  const gids = lines.slice(mapping.uids.length);
  assert.equal(uids, mapping.uids);
  assert.equal(gids, mapping.gids);
  assert.equal(uids[0], { inside: 0, outside: uid, count: 1 });
  assert.is(uids[1]!.inside, 1);
  assert.ok(uids[1]!.count > 1, 'a subordinate range, not a single id');
});

testIf(noFullMapping, 'runs the command as uid 0 and gid 0 inside', async () => {
  const r = await inNamespace(['sh', '-c', 'id -u; id -g']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '0\n0\n');
});

testIf(noFullMapping, 'shows a file chowned to 1000 inside as owned by the mapped subordinate id outside', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-userns-'));
  try {
    const file = join(dir, 'owned');
    const r = await inNamespace(['sh', '-c', 'touch "$1" && chown 1000:1000 "$1"', 'sh', file]);
    assert.is(r.code, 0, r.stderr);
    const st = statSync(file);
    assert.is(st.uid, outsideOf(mapping.uids, 1000));
    assert.is(st.gid, outsideOf(mapping.gids, 1000));
    assert.is.not(st.uid, uid);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

testIf(noFullMapping, 'reports a range newuidmap refuses in one line and exits 125', async () => {
  const args = ['userns', '--uid-map', '0', String(uid), '1', '--uid-map', '1', '1', '1', '--gid-map', '0', String(gid), '1',
    '--newuidmap', tools?.newuidmap ?? '', '--newgidmap', tools?.newgidmap ?? '', '--'];
  const r = await inNamespace(['true'], args);
  assert.is(r.code, 125);
  assert.match(r.stderr, /^tsbox-helper: \S*newuidmap failed to write the uid map \(exit \d+\): .+\n$/);
});

testIf(noUserns, 'maps only the own id directly when no newuidmap is given', async () => {
  const r = await inNamespace(['cat', '/proc/self/uid_map', '/proc/self/gid_map', '/proc/self/setgroups'], ['userns', '--']);
  assert.is(r.code, 0, r.stderr);
  const [uidLine, gidLine, setgroups] = r.stdout.trim().split('\n');
  assert.equal(parseIdMap(uidLine!), [{ inside: 0, outside: uid, count: 1 }]);
  assert.equal(parseIdMap(gidLine!), [{ inside: 0, outside: gid, count: 1 }]);
  assert.is(setgroups, 'deny');
  const id = await inNamespace(['id', '-u'], ['userns', '--uid-map', '0', String(uid), '1', '--']);
  assert.is(id.stdout, '0\n');
});

testIf(noUserns, 'refuses to map other ids without newuidmap, saying why', async () => {
  const r = await inNamespace(['true'], ['userns', '--uid-map', '0', '100000', '10', '--']);
  assert.is(r.code, 125);
  assert.match(r.stderr, /only your own uid .* can be mapped/);
});

testIf(noUserns, 'exits with the command status', async () => {
  const r = await inNamespace(['sh', '-c', 'exit 42'], ['userns', '--']);
  assert.is(r.code, 42);
});

testIf(noUserns, 'exits with 128+N when the command is killed by signal N', async () => {
  const r = await inNamespace(['sh', '-c', 'kill -KILL $$'], ['userns', '--']);
  assert.is(r.code, 137);
});

testIf(noUserns, 'exits 127 with a message when the command is not found', async () => {
  const r = await inNamespace(['no-such-command-tsbox'], ['userns', '--']);
  assert.is(r.code, 127);
  assert.is(r.stderr, 'tsbox-helper: no-such-command-tsbox: command not found\n');
});

testIf(noUserns, 'exits 126 when the command cannot be executed', async () => {
  const r = await inNamespace(['/etc/passwd'], ['userns', '--']);
  assert.is(r.code, 126);
  assert.match(r.stderr, /^tsbox-helper: cannot run \/etc\/passwd: Permission denied\n$/);
});

/** Starts the helper running `script`, resolves once the script printed "ready". */
function startWaiting(script: string) {
  const child = spawn(HELPER_BIN, ['userns', '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const ready = new Promise<void>((resolve) =>
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready\n')) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, ready, exited, output: () => out, errors: () => err };
}

testIf(noUserns, 'forwards SIGTERM to the command, which handles it', async () => {
  const run = startWaiting('trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.05; done');
  try {
    await withTimeout(run.ready, 10_000, 'the command to start');
    run.child.kill('SIGTERM');
    const code = await withTimeout(run.exited, 10_000, 'the helper to exit');
    assert.is(code, 3, run.errors());
    assert.match(run.output(), /got TERM/);
  } finally {
    run.child.kill('SIGKILL');
  }
});

testIf(noUserns, 'forwards SIGUSR1 and exits 128+10 when it kills the command', async () => {
  const run = startWaiting('echo ready; exec sleep 30');
  try {
    await withTimeout(run.ready, 10_000, 'the command to start');
    await new Promise((r) => setTimeout(r, 100)); // let sh exec sleep
    run.child.kill('SIGUSR1');
    const code = await withTimeout(run.exited, 10_000, 'the helper to exit');
    assert.is(code, 138, run.errors());
  } finally {
    run.child.kill('SIGKILL');
  }
});

testIf(noUserns, 'leaves no helper file descriptor open in the command', async () => {
  const direct = await runProgram('ls', ['/proc/self/fd'], { timeoutMs: 10_000 });
  const inside = await inNamespace(['ls', '/proc/self/fd'], ['userns', '--']);
  assert.is(inside.code, 0, inside.stderr);
  // the same fds as a command started without the helper (whatever the test
  // runner itself passes down), so none of the helper's own
  assert.is(inside.stdout, direct.stdout);
});

testIf(noFullMapping, 'leaves no helper file descriptor open when newuidmap writes the maps', async () => {
  const direct = await runProgram('ls', ['/proc/self/fd'], { timeoutMs: 10_000 });
  const inside = await inNamespace(['ls', '/proc/self/fd']);
  assert.is(inside.code, 0, inside.stderr);
  assert.is(inside.stdout, direct.stdout);
});

testIf(noUserns, 'runs a program in the user namespace from TypeScript and collects its output', async () => {
  const r = await withTimeout(runInUserNamespace('sh', ['-c', 'id -u; echo oops >&2; exit 5']), 20_000, 'runInUserNamespace');
  assert.equal(r, { exitCode: 5, stdout: '0\n', stderr: 'oops\n' });
});

testIf(noUserns, 're-executes a node program inside the namespace, which then knows it is inside', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-reexec-'));
  try {
    const helperModule = pathToFileURL(join(REPO_ROOT, 'dist', 'core', 'userns', 'helper.js')).href;
    const script = join(dir, 'reexec.mjs');
    writeFileSync(
      script,
      `import { isInUserNamespace, reexecInUserNamespace } from ${JSON.stringify(helperModule)};\n` +
        `if (isInUserNamespace()) { console.log('inside uid', process.getuid(), process.argv.slice(2).join(',')); process.exit(7); }\n` +
        `console.log('outside', isInUserNamespace());\n` +
        `process.exit(await reexecInUserNamespace());\n`,
    );
    const r = await runProgram(process.execPath, [script, 'a b', 'c'], { timeoutMs: 20_000 });
    assert.is(r.code, 7, r.stderr);
    assert.is(r.stdout, 'outside false\ninside uid 0 a b,c\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
