// `tsbox-helper run --fuse-overlayfs PATH` and `--fuse-overlayfs-fallback
// PATH`, and `userns --join PID`, driven directly as the unprivileged user
// against the real kernel and Debian's fuse-overlayfs: 100 layers with
// store-length names, the kernel's whiteouts and opaque xattr as fsops
// writes them, where the daemon lives (not in the container's pid
// namespace) and that it ends with the container or its monitor.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { HELPER_BIN } from '../lib/tsbox.js';
import { waitFor, withTimeout } from '../lib/timeout.js';
import { conditionalTest } from '../lib/skip.js';
import { currentMapping, findMappingTools } from '../../core/userns/mapping.js';
import { usernsHelperArgs } from '../../core/userns/helper.js';
import { overlayHost } from '../../core/runtime/overlay.js';

const mapping = currentMapping();
const foundTools = findMappingTools();
const tools = 'missing' in foundTools ? undefined : foundTools;
const mapArgs = usernsHelperArgs(mapping.full && tools ? mapping : { uids: [{ inside: 0, outside: process.getuid!(), count: 1 }], gids: [{ inside: 0, outside: process.getgid!(), count: 1 }], full: false }, tools);
const FUSE = overlayHost().fuseOverlayfs;

function whyNoFuse(): string | undefined {
  if (!FUSE) return 'fuse-overlayfs is not installed (apt-get install fuse-overlayfs)';
  try {
    closeSync(openSync('/dev/fuse', constants.O_RDWR));
  } catch (err) {
    return `cannot open /dev/fuse (${(err as NodeJS.ErrnoException).code}): as root, chmod 0666 /dev/fuse (scripts/test.sh does)`;
  }
  const probe = spawnSync(HELPER_BIN, ['userns', ...mapArgs, '--', 'true'], { timeout: 10_000 });
  if (probe.status !== 0) return `no user namespace here: ${probe.stderr?.toString().trim()}`;
  return undefined;
}
const noFuse = whyNoFuse();
const testIf = conditionalTest(test);

const work = mkdtempSync(join(tmpdir(), 'tsbox-fuse-test-'));
chmodSync(work, 0o755);
test.after(() => {
  // upper/ and work/ hold files of mapped ids: remove them inside the namespace
  spawnSync(HELPER_BIN, ['userns', ...mapArgs, '--', 'rm', '-rf', work], { timeout: 30_000 });
  rmSync(work, { recursive: true, force: true });
});

/** The fstype of the container's / as its /proc/self/mountinfo says. */
const ROOT_FSTYPE = "awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++) ; print $(i + 1) }' /proc/self/mountinfo";

const APPLETS = ['sh', 'cat', 'ls', 'ps', 'sleep', 'grep', 'wc', 'awk', 'echo', 'mkdir', 'rm'];

/** A container directory: layers/<64 hex>/diff (the store's lengths), upper, work, merged. */
function makeLayers(name: string, count: number): { dir: string; layers: string; lowers: string[] } {
  const dir = join(work, name);
  const layers = join(dir, 'layers');
  const lowers: string[] = [];
  for (let i = 0; i < count; i++) {
    const rel = `${String(i).padStart(64, 'a')}/diff`;
    mkdirSync(join(layers, rel, 'data'), { recursive: true });
    writeFileSync(join(layers, rel, 'data', `layer-${i}`), `${i}\n`);
    lowers.push(rel);
  }
  const bottom = join(layers, lowers[0]!);
  for (const d of ['bin', 'proc', 'tmp']) mkdirSync(join(bottom, d), { recursive: true });
  copyFileSync('/bin/busybox', join(bottom, 'bin/busybox'));
  chmodSync(join(bottom, 'bin/busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(bottom, 'bin', a));
  for (const d of ['upper', 'work', 'merged']) mkdirSync(join(dir, d));
  return { dir, layers, lowers };
}

function rootArgs(c: { dir: string; layers: string; lowers: string[] }, mode: string[]): string[] {
  return ['--overlay-layers-dir', c.layers, ...c.lowers.flatMap((l) => ['--overlay-lower', l]), '--overlay', join(c.dir, 'upper'), join(c.dir, 'work'), join(c.dir, 'merged'), ...mode, '--proc', '/proc', '--setenv', 'PATH', '/bin'];
}

interface Started {
  child: ReturnType<typeof spawn>;
  status: () => Record<string, unknown>[];
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function start(root: string[], command: string[]): Started {
  const child = spawn(HELPER_BIN, ['run', ...mapArgs, ...root, '--status-fd', '3', '--', ...command], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let status = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  (child.stdio[3] as Readable).on('data', (b: Buffer) => (status += b.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout: out, stderr: err })));
  return { child, status: () => status.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), done };
}

/** fuse-overlayfs processes whose arguments name `dir`. */
function daemonsFor(dir: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args[0]!.endsWith('fuse-overlayfs') && args.some((a) => a.includes(dir))) found.push(Number(pid));
    } catch {
      // gone
    }
  }
  return found;
}

testIf(noFuse, '--fuse-overlayfs: 100 layers of store-length names, no fuse-overlayfs in the container, none after it', async () => {
  const c = makeLayers('hundred', 100);
  const r = await withTimeout(start(rootArgs(c, ['--fuse-overlayfs', FUSE!]), ['sh', '-c', `ls /data | wc -l; cat /data/layer-99; ${ROOT_FSTYPE}; ps -o comm | grep -c fuse; echo w > /data/written`]).done, 30_000, 'helper run');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.replace(/ +/g, ''), '100\n99\nfuse.fuse-overlayfs\n0\n');
  assert.is(readFileSync(join(c.dir, 'upper/data/written'), 'utf8'), 'w\n');
  assert.equal(daemonsFor(c.dir), [], 'the daemon ended with the container');
});

testIf(noFuse, 'the layers as tsbox stores them: 0:0 whiteouts and user.overlay.opaque are honoured', async () => {
  const c = makeLayers('whiteouts', 2);
  const [bottom, top] = c.lowers.map((l) => join(c.layers, l));
  mkdirSync(join(bottom!, 'data/opaque/sub'), { recursive: true });
  writeFileSync(join(bottom!, 'data/opaque/old'), 'hidden\n');
  writeFileSync(join(bottom!, 'data/removed'), 'hidden\n');
  mkdirSync(join(top!, 'data/opaque'));
  writeFileSync(join(top!, 'data/opaque/new'), 'new\n');
  const fsops = spawnSync(HELPER_BIN, ['userns', ...mapArgs, '--', HELPER_BIN, 'fsops', top!], { input: 'whiteout\0data/removed\0opaque\0data/opaque\0', timeout: 10_000 });
  assert.is(fsops.status, 0, fsops.stderr.toString());
  const r = await withTimeout(start(rootArgs(c, ['--fuse-overlayfs', FUSE!]), ['sh', '-c', 'ls -A /data/opaque; ls /data']).done, 30_000, 'helper run');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'new\nlayer-0\nlayer-1\nopaque\n');
});

testIf(noFuse, 'kill -9 of the helper ends the daemon with the container', async () => {
  const c = makeLayers('killed', 1);
  const h = start(rootArgs(c, ['--fuse-overlayfs', FUSE!]), ['sleep', '1000']);
  await waitFor(() => (h.status().some((e) => e.event === 'pid') ? true : undefined), 20_000, 'the pid event');
  assert.is(daemonsFor(c.dir).length, 1);
  h.child.kill('SIGKILL');
  await withTimeout(h.done, 10_000, 'the helper to end');
  await waitFor(() => (daemonsFor(c.dir).length === 0 ? true : undefined), 10_000, 'no fuse-overlayfs left', 50);
});

testIf(noFuse, 'userns --join PID: a process of the container\'s user namespace reads the fuse root, one outside cannot', async () => {
  const c = makeLayers('join', 1);
  const h = start(rootArgs(c, ['--fuse-overlayfs', FUSE!]), ['sleep', '1000']);
  try {
    const event = await waitFor(() => h.status().find((e) => e.event === 'pid'), 20_000, 'the pid event');
    const pid = event.pid as number;
    const outside = spawnSync(HELPER_BIN, ['userns', ...mapArgs, '--', 'cat', `/proc/${pid}/root/data/layer-0`], { timeout: 10_000, encoding: 'utf8' });
    assert.is.not(outside.status, 0, 'FUSE admits only the mount\'s user namespace');
    const joined = spawnSync(HELPER_BIN, ['userns', '--join', String(pid), '--', 'cat', `/proc/${pid}/root/data/layer-0`], { timeout: 10_000, encoding: 'utf8' });
    assert.is(joined.status, 0, joined.stderr);
    assert.is(joined.stdout, '0\n');
    const refused = spawnSync(HELPER_BIN, ['userns', '--join', String(pid), '--uid-map', '0', '1', '1', '--', 'true'], { timeout: 10_000, encoding: 'utf8' });
    assert.is(refused.status, 125);
  } finally {
    h.child.kill('SIGKILL');
    await withTimeout(h.done, 10_000, 'the helper to end');
  }
});

testIf(noFuse, '--fuse-overlayfs-fallback: the kernel\'s overlay when it mounts, fuse-overlayfs with an overlay event when it refuses', async () => {
  const c = makeLayers('fallback', 1);
  const script = ['sh', '-c', ROOT_FSTYPE];
  const kernel = start(rootArgs(c, ['--fuse-overlayfs-fallback', FUSE!]), script);
  const k = await withTimeout(kernel.done, 30_000, 'helper run');
  assert.is(k.code, 0, k.stderr);
  assert.is(k.stdout, 'overlay\n');
  assert.not.ok(kernel.status().some((e) => e.event === 'overlay'));
  // a work dir inside the upper dir: the kernel refuses (EINVAL), fuse-overlayfs does not mind
  const refused = { ...c, dir: c.dir };
  const root = rootArgs(refused, ['--fuse-overlayfs-fallback', FUSE!]).map((a) => (a === join(c.dir, 'work') ? join(c.dir, 'upper', 'work') : a));
  mkdirSync(join(c.dir, 'upper', 'work'));
  const fuse = start(root, script);
  const f = await withTimeout(fuse.done, 30_000, 'helper run');
  assert.is(f.code, 0, f.stderr);
  assert.is(f.stdout, 'fuse.fuse-overlayfs\n');
  assert.equal(fuse.status().find((e) => e.event === 'overlay'), { event: 'overlay', mode: 'fuse', errno: 'EINVAL' });
});

testIf(noFuse, 'a fuse-overlayfs that cannot mount: an error event with its own last words, exit 125', async () => {
  const c = makeLayers('broken', 1);
  const root = rootArgs(c, ['--fuse-overlayfs', FUSE!]).map((a) => (a === c.lowers[0] ? `${a}-missing` : a));
  const helper = start(root, ['true']);
  const r = await withTimeout(helper.done, 30_000, 'helper run');
  assert.is(r.code, 125);
  assert.is(r.stderr, '');
  const error = helper.status().filter((e) => e.event === 'error').at(-1);
  assert.match(String(error?.message), /^fuse-overlayfs could not mount the root at \S+ \(status \d+\): .+$/);
});

test.run();
