// The fuse-overlayfs root (TSBOX_OVERLAY=fuse), as the unprivileged user,
// against the real kernel and a real registry: the layered image's
// whiteouts and opaque directories, writes in upper/ and what diff reads of
// them, a second start of the same container, exec into a detached one,
// and no fuse-overlayfs process left behind (--rm, stop, kill -9 of the
// monitor), none visible in the container either.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { LAYERED_EXPECTED, pushBusybox, pushLayered } from '../lib/fixtures.js';
import { runTsbox, type RunResult } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { waitFor } from '../lib/timeout.js';
import { conditionalTest } from '../lib/skip.js';
import { overlayHost } from '../../core/runtime/overlay.js';

interface Context {
  registry: TestRegistry;
  store: TestStore;
  /** the layered image's reference */
  layered: string;
}

/** Why fuse-overlayfs cannot be used here, or undefined. */
function whyNoFuse(): string | undefined {
  if (!overlayHost().fuseOverlayfs) return 'fuse-overlayfs is not installed (apt-get install fuse-overlayfs)';
  try {
    closeSync(openSync('/dev/fuse', constants.O_RDWR));
  } catch (err) {
    return `cannot open /dev/fuse (${(err as NodeJS.ErrnoException).code}): as root, chmod 0666 /dev/fuse (scripts/test.sh does)`;
  }
  return undefined;
}
const noFuse = whyNoFuse();

const test = suite<Context>('fuse-overlayfs');
const testIf = conditionalTest(test);

test.before(async (context) => {
  if (noFuse) return;
  context.registry = await startRegistry();
  await pushLayered(context.registry);
  context.layered = `${context.registry.host}/layered`;
  await pushBusybox(context.registry);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host, { mirrorDockerIo: true });
  const pulled = await tsbox(context, ['pull', '-q', context.layered]);
  assert.is(pulled.code, 0, pulled.stderr);
});

test.after(async (context) => {
  if (context.store) await tsbox(context, ['rm', '-f', '-a']).catch(() => {});
  await context.store?.cleanup();
  await context.registry?.stop();
});

function tsbox(context: Context, args: string[], env: NodeJS.ProcessEnv = { TSBOX_OVERLAY: 'fuse' }): Promise<RunResult> {
  return runTsbox(args, { env: { ...context.store.env, ...env }, timeoutMs: 60_000 });
}

function containerDir(context: Context, id: string): string {
  return join(context.store.store, 'containers', id);
}

/** fuse-overlayfs processes whose command line names `path` (a container's directory, or the store). */
function fuseDaemons(path: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]!.endsWith('fuse-overlayfs') && cmdline.some((a) => a.includes(path))) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function noDaemonLeft(path: string, what: string): Promise<void> {
  await waitFor(() => (fuseDaemons(path).length === 0 ? true : undefined), 10_000, `no fuse-overlayfs process after ${what}`, 50);
}

/** The fstype of the container's / as its /proc/self/mountinfo says. */
const ROOT_FSTYPE = "awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++) ; print $(i + 1) }' /proc/self/mountinfo";

testIf(noFuse, 'info reports the overlay in use: fuse with TSBOX_OVERLAY=fuse, native without on this kernel', async (context) => {
  const fuse = await tsbox(context, ['info', '--format', '{{.Host.Overlay.Mode}}']);
  assert.is(fuse.code, 0, fuse.stderr);
  assert.is(fuse.stdout.trim(), 'fuse');
  const auto = await tsbox(context, ['info', '--format', '{{.Host.Overlay.Mode}}'], { TSBOX_OVERLAY: '' });
  assert.is(auto.stdout.trim(), overlayHost().nativeInUserns ? 'native' : 'fuse');
});

testIf(noFuse, 'run --rm of the layered image: whiteouts and opaque dirs as the kernel shows them, writes work, nothing left', async (context) => {
  const absent = LAYERED_EXPECTED.absent.map((p) => `/${p}`).join(' ');
  const script = [
    ROOT_FSTYPE,
    'cat /data/keep/file /data/keep/added /data/opaque/new',
    'ls -A /data/opaque',
    `for p in ${absent}; do [ -e $p ] && echo "still there: $p"; done`,
    'echo written > /data/new-file && cat /data/new-file',
    'rm /data/keep/added && ls /data/keep',
    'ps -o comm | grep -c fuse-overlayfs',
  ].join('; ');
  const r = await tsbox(context, ['run', '--rm', '--network', 'none', context.layered, 'sh', '-c', script]);
  assert.is(r.stderr, '');
  assert.is(r.stdout, [
    'fuse.fuse-overlayfs',
    'version 3', 'added in layer 2', 'the only file left in data/opaque',
    'new',
    'written',
    'file',
    '0',
    '',
  ].join('\n'));
  const containers = join(context.store.store, 'containers');
  assert.equal(readdirSync(containers).filter((n) => /^[0-9a-f]{64}$/.test(n)), [], '--rm removed the container');
  await noDaemonLeft(context.store.store, 'run --rm');
});

testIf(noFuse, 'writes land in upper/; diff reads them in the kernel\'s terms; a second start sees the same files', async (context) => {
  // idempotent: the first run recreates /data/keep as an opaque directory, the second lists it
  const script = 'ls -A /data/keep; echo hi > /data/written; rm -f /data/owned-root; rm -rf /data/keep; mkdir /data/keep; echo n > /data/keep/newer';
  const first = await tsbox(context, ['run', '--name', 'writer', '--network', 'none', context.layered, 'sh', '-c', script]);
  assert.is(first.code, 0, first.stderr);
  assert.is(first.stdout, 'added\nfile\n');
  const id = (await tsbox(context, ['inspect', '--format', '{{.Id}}', 'writer'])).stdout.trim();
  const dir = containerDir(context, id);
  assert.ok(existsSync(join(dir, 'fuse-overlayfs')), 'the container is marked as written by fuse-overlayfs');

  const diff = await tsbox(context, ['diff', 'writer']);
  assert.is(diff.code, 0, diff.stderr);
  const lines = diff.stdout.trim().split('\n');
  assert.ok(lines.includes('A /data/written'), diff.stdout);
  assert.ok(lines.includes('D /data/owned-root'), diff.stdout);
  assert.ok(lines.includes('C /data/keep'), diff.stdout);
  assert.ok(lines.includes('A /data/keep/newer'), diff.stdout);
  assert.not.match(diff.stdout, /\.wh\./, 'fuse-overlayfs\'s markers are not changes');

  // without TSBOX_OVERLAY: the marker keeps it on fuse-overlayfs, which reads its own opaque dir
  const again = await tsbox(context, ['start', '-a', 'writer'], {});
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout, 'newer\n');
  assert.is((await tsbox(context, ['rm', 'writer'])).code, 0);
  await noDaemonLeft(dir, 'rm');
});

testIf(noFuse, 'a detached container: exec works, ps and top show no fuse-overlayfs, stop leaves no daemon', async (context) => {
  const started = await tsbox(context, ['run', '-d', '--name', 'bg', '--network', 'none', context.layered, 'sleep', '1000']);
  assert.is(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  const dir = containerDir(context, id);
  assert.is(fuseDaemons(dir).length, 1, 'one fuse-overlayfs serves the container');

  const exec = await tsbox(context, ['exec', 'bg', 'sh', '-c', `${ROOT_FSTYPE}; cat /data/opaque/new; ls /data/opaque; ps -o comm | grep -c fuse-overlayfs`]);
  assert.is(exec.code, 1, exec.stderr); // grep -c counting 0 lines exits 1
  assert.is(exec.stdout, 'fuse.fuse-overlayfs\nthe only file left in data/opaque\nnew\n0\n');
  const top = await tsbox(context, ['top', 'bg']);
  assert.is(top.code, 0, top.stderr);
  assert.match(top.stdout, /sleep 1000/);
  assert.not.match(top.stdout, /fuse-overlayfs/);

  const stopped = await tsbox(context, ['stop', '-t', '0', 'bg']);
  assert.is(stopped.code, 0, stopped.stderr);
  await noDaemonLeft(dir, 'stop');
  assert.is((await tsbox(context, ['rm', 'bg'])).code, 0);
});

testIf(noFuse, 'kill -9 of the monitor ends the fuse-overlayfs daemon too', async (context) => {
  const started = await tsbox(context, ['run', '-d', '--name', 'orphan', '--network', 'none', context.layered, 'sleep', '1000']);
  assert.is(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  const dir = containerDir(context, id);
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { MonitorPid: number };
  assert.is(fuseDaemons(dir).length, 1);
  process.kill(state.MonitorPid, 'SIGKILL');
  await noDaemonLeft(dir, 'kill -9 of the monitor');
  assert.is((await tsbox(context, ['rm', '-f', 'orphan'])).code, 0);
});

testIf(noFuse, 'cp into and out of a stopped and a running fuse-overlayfs container', async (context) => {
  const created = await tsbox(context, ['create', '--name', 'copy', '--network', 'none', context.layered, 'sleep', '1000']);
  assert.is(created.code, 0, created.stderr);
  const out = await tsbox(context, ['cp', 'copy:/data/opaque/new', '-']);
  assert.is(out.code, 0, out.stderr);
  assert.match(out.stdout, /the only file left in data\/opaque/);
  assert.is((await tsbox(context, ['start', 'copy'])).code, 0);
  const running = await tsbox(context, ['cp', 'copy:/data/keep/file', '-']);
  assert.is(running.code, 0, running.stderr);
  assert.match(running.stdout, /version 3/);
  const hostDir = mkdtempSync(join(tmpdir(), 'tsbox-fuse-cp-'));
  try {
    writeFileSync(join(hostDir, 'from-host'), 'copied in\n');
    const into = await tsbox(context, ['cp', join(hostDir, 'from-host'), 'copy:/data/opaque/']);
    assert.is(into.code, 0, into.stderr);
  } finally {
    rmSync(hostDir, { recursive: true, force: true });
  }
  const seen = await tsbox(context, ['exec', 'copy', 'sh', '-c', 'cat /data/opaque/from-host; ls /data/opaque']);
  assert.is(seen.stdout, 'copied in\nfrom-host\nnew\n', seen.stderr);
  assert.is((await tsbox(context, ['rm', '-f', 'copy'])).code, 0);
});

testIf(noFuse, 'when neither overlay can be used: one Error line saying what to install, exit 125', async (context) => {
  const missing = await tsbox(context, ['run', '--rm', '--network', 'none', context.layered, 'true'], { TSBOX_OVERLAY: 'fuse', TSBOX_FUSE_OVERLAYFS: '/nonexistent/fuse-overlayfs' });
  assert.is(missing.code, 125);
  assert.is(missing.stderr, 'Error: TSBOX_OVERLAY=fuse, but fuse-overlayfs is not installed (install the fuse-overlayfs package)\n');
  const bad = await tsbox(context, ['run', '--rm', '--network', 'none', context.layered, 'true'], { TSBOX_OVERLAY: 'kernel' });
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /^Error: TSBOX_OVERLAY=kernel: expected native or fuse\n$/);
});

test.run();
