// Drives `tsbox-helper run` directly, as the unprivileged user, against the
// real kernel: the root (bound or overlay), the mount ops, identity, env,
// capabilities, seccomp, exit statuses, signals, the status and sync fds,
// and paths that try to leave the root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { HELPER_BIN } from '../lib/tsbox.js';
import { withTimeout } from '../lib/timeout.js';
import { currentMapping, findMappingTools } from '../../core/userns/mapping.js';
import { usernsHelperArgs } from '../../core/userns/helper.js';
import { conditionalTest } from '../lib/skip.js';

const mapping = currentMapping();
const foundTools = findMappingTools();
const tools = 'missing' in foundTools ? undefined : foundTools;
const fullMapping = mapping.full && tools !== undefined;
const mapArgs = usernsHelperArgs(fullMapping ? mapping : { uids: [{ inside: 0, outside: process.getuid!(), count: 1 }], gids: [{ inside: 0, outside: process.getgid!(), count: 1 }], full: false }, tools);

const work = mkdtempSync(join(tmpdir(), 'tsbox-run-test-'));
const BUSYBOX_APPLETS = ['sh', 'echo', 'cat', 'ls', 'id', 'mount', 'hostname', 'ps', 'sleep', 'true', 'false', 'grep', 'mkdir', 'tty', 'env', 'pwd', 'touch', 'wc', 'stat', 'kill', 'cut'];

/** A minimal root: static busybox, passwd (root 0, app 1000) and group (app 1000, extra 2000 with app). */
function makeRootfs(dir: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'proc', 'dev', 'sys', 'home/app']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of BUSYBOX_APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
  return dir;
}

const rootfs = makeRootfs(join(work, 'rootfs'));
const merged = join(work, 'merged');
mkdirSync(merged);
chmodSync(work, 0o755);

const baseArgs = () => ['--rootfs', rootfs, merged, '--proc', '/proc', '--dev', '/dev', '--setenv', 'PATH', '/bin'];

interface HelperResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  status: Record<string, unknown>[];
}

interface HelperRun {
  child: ReturnType<typeof spawn>;
  stdout: () => string;
  statusLines: () => Record<string, unknown>[];
  done: Promise<HelperResult>;
}

/** Starts `tsbox-helper run`; fd 3 is the status fd; `fds` adds fds 4.. with the given contents (or open pipes for undefined). */
function startHelper(options: string[], command: string[], fds: (string | Buffer | undefined)[] = [], root = baseArgs()): HelperRun {
  const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe', ...fds.map(() => 'pipe' as const)];
  const child = spawn(HELPER_BIN, ['run', ...mapArgs, ...root, '--status-fd', '3', ...options, '--', ...command], { stdio });
  let out = '';
  let err = '';
  let status = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  (child.stdio[3] as Readable).on('data', (b: Buffer) => (status += b.toString()));
  child.stdin!.end();
  fds.forEach((content, i) => {
    const s = child.stdio[4 + i] as Writable;
    s.on('error', () => {});
    if (content !== undefined) s.end(content);
  });
  const parse = () => status.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const done = new Promise<HelperResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err, status: parse() }));
  });
  return { child, stdout: () => out, statusLines: parse, done };
}

function run(options: string[], command: string[], fds: (string | Buffer | undefined)[] = [], root?: string[]): Promise<HelperResult> {
  const h = startHelper(options, command, fds, root);
  return withTimeout(h.done, 20_000, `tsbox-helper run ${command.join(' ')}`);
}

const sh = (script: string) => ['sh', '-c', script];

function whyNoRun(): string | undefined {
  const probe = spawnSync(HELPER_BIN, ['run', ...mapArgs, ...baseArgs(), '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `cannot run ${HELPER_BIN}: ${probe.error.message} (run npm run build)`;
  if (probe.status !== 0) return `cannot run a container here: ${probe.stderr.trim()}`;
  return undefined;
}
const noRun = whyNoRun();
const noFull = noRun ?? (fullMapping ? undefined : `no subordinate id mapping: ${mapping.warning}`);

const testIf = conditionalTest(test);

/** With a status fd the helper prints nothing on stderr: its last error event's message. */
function lastError(r: { status: Record<string, unknown>[]; stderr: string }): string {
  assert.is(r.stderr, '', 'nothing on stderr besides the error event');
  const error = r.status.filter((e) => e.event === 'error').at(-1);
  return error ? `${String(error.message)}${error.errno ? ` (${String(error.errno)})` : ''}` : '';
}


test.after(() => rmSync(work, { recursive: true, force: true }));

testIf(noRun, 'runs id as root in the container with the full uid map', async () => {
  const r = await run([], sh('id; cat /proc/self/uid_map'));
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/);
  const lines = r.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).map(Number));
  const expected = fullMapping ? mapping.uids : [{ inside: 0, outside: process.getuid!(), count: 1 }];
  assert.equal(lines, expected.map((m) => [m.inside, m.outside, m.count]));
});

testIf(noFull, '--user 1000 and --user app set uid, gid, groups and HOME from the container passwd', async () => {
  const byId = await run(['--user', '1000'], sh('id; echo $HOME'));
  assert.is(byId.code, 0, byId.stderr);
  assert.match(byId.stdout, /^uid=1000\(app\) gid=1000\(app\) groups=1000\(app\),2000\(extra\)\n\/home\/app\n$/);
  const byName = await run(['--user', 'app:extra', '--setenv', 'HOME', '/elsewhere'], sh('id -u; id -g; echo $HOME'));
  assert.is(byName.code, 0, byName.stderr);
  assert.is(byName.stdout, '1000\n2000\n/elsewhere\n');
  const unknown = await run(['--user', 'nobody-here'], ['true']);
  assert.is(unknown.code, 125);
  assert.match(lastError(unknown), /unable to find user nobody-here/);
});

testIf(noRun, 'sets the hostname, the environment and the working directory', async () => {
  const r = await run(['--unshare-uts', '--hostname', 'box1', '--clearenv', '--setenv', 'PATH', '/bin', '--setenv', 'GREETING', 'hello world', '--chdir', '/tmp/new/dir'], sh('hostname; env | grep -v ^PWD= | sort; pwd'));
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'box1\nGREETING=hello world\nPATH=/bin\nSHLVL=1\n/tmp/new/dir\n'.replace('SHLVL=1\n', r.stdout.includes('SHLVL') ? 'SHLVL=1\n' : ''));
});

testIf(noRun, 'an overlay of two lower layers: writes go to the upper layer, the lowers stay unchanged', async () => {
  const dir = join(work, 'ov');
  const layers = join(dir, 'layers');
  makeRootfs(join(layers, 'l1'));
  writeFileSync(join(layers, 'l1', 'etc/motd'), 'bottom\n');
  mkdirSync(join(layers, 'l2/etc'), { recursive: true });
  writeFileSync(join(layers, 'l2/etc/motd'), 'top\n');
  for (const d of ['upper', 'work', 'merged']) mkdirSync(join(dir, d));
  const root = ['--overlay-layers-dir', layers, '--overlay-lower', 'l1', '--overlay-lower', 'l2', '--overlay', join(dir, 'upper'), join(dir, 'work'), join(dir, 'merged'), '--proc', '/proc', '--setenv', 'PATH', '/bin'];
  const r = await run([], sh('cat /etc/motd; echo written > /etc/motd; echo new > /newfile; cat /etc/motd'), [], root);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'top\nwritten\n');
  assert.is(readFileSync(join(dir, 'upper/etc/motd'), 'utf8'), 'written\n');
  assert.is(readFileSync(join(dir, 'upper/newfile'), 'utf8'), 'new\n');
  assert.is(readFileSync(join(layers, 'l2/etc/motd'), 'utf8'), 'top\n');
  assert.is(readFileSync(join(layers, 'l1/etc/motd'), 'utf8'), 'bottom\n');
});

testIf(noRun, 'mounts 100 lower layers (the options fit in a page thanks to --overlay-layers-dir)', async () => {
  const dir = join(work, 'ov100');
  const layers = join(dir, 'layers');
  makeRootfs(join(layers, 'layer-000'));
  const lowers: string[] = ['--overlay-lower', 'layer-000'];
  for (let i = 1; i < 100; i++) {
    const name = `layer-${String(i).padStart(3, '0')}`;
    mkdirSync(join(layers, name, 'data'), { recursive: true });
    writeFileSync(join(layers, name, 'data', name), `${i}\n`);
    lowers.push('--overlay-lower', name);
  }
  for (const d of ['upper', 'work', 'merged']) mkdirSync(join(dir, d));
  const root = ['--overlay-layers-dir', layers, ...lowers, '--overlay', join(dir, 'upper'), join(dir, 'work'), join(dir, 'merged'), '--setenv', 'PATH', '/bin'];
  const r = await run([], sh('ls /data | wc -l; cat /data/layer-099'), [], root);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.replace(/ +/g, ''), '99\n99\n');
});

testIf(noRun, '--read-only makes the root read-only (EROFS), mounts on it stay writable', async () => {
  const r = await run(['--read-only', '--tmpfs', '/tmp', '-'], sh('echo x > /tmp/ok && echo tmp-ok; echo x > /etc/nope'));
  assert.is(r.code, 1);
  assert.match(r.stdout, /tmp-ok/);
  assert.match(r.stderr, /Read-only file system/);
});

testIf(noRun, '--bind and --ro-bind: writes pass through a bind, not through a read-only bind', async () => {
  const shared = join(work, 'shared');
  mkdirSync(shared);
  writeFileSync(join(shared, 'in'), 'from host\n');
  chmodSync(shared, 0o777);
  const r = await run(['--bind', shared, '/mnt/rw', '--ro-bind', shared, '/mnt/ro'], sh('cat /mnt/ro/in; echo out > /mnt/rw/out && echo bound; echo no > /mnt/ro/no'));
  assert.is(r.code, 1);
  assert.is(r.stdout, 'from host\nbound\n');
  assert.match(r.stderr, /Read-only file system/);
  assert.is(readFileSync(join(shared, 'out'), 'utf8'), 'out\n');
  assert.not.ok(existsSync(join(shared, 'no')));
});

testIf(noRun, '--tmpfs mounts a tmpfs with the options given', async () => {
  const r = await run(['--tmpfs', '/scratch', 'size=1m,mode=1777'], sh('grep " /scratch " /proc/mounts; echo x > /scratch/f && cat /scratch/f'));
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^tmpfs \/scratch tmpfs rw,nosuid,nodev.*size=1024k/);
  assert.match(r.stdout, /\nx\n$/);
});

testIf(noRun, '/proc shows only the container, /dev has the usual entries', async () => {
  const r = await run([], sh('ps -o pid,comm; ls /dev; readlink /dev/fd'));
  assert.is(r.code, 0, r.stderr);
  const pids = r.stdout.split('\n').filter((l) => /^\s*\d+/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
  assert.is(pids[0], 1);
  assert.ok(pids.length <= 3, r.stdout);
  for (const entry of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'ptmx', 'shm', 'stdin', 'stdout', 'stderr']) assert.match(r.stdout, new RegExp(`^${entry}$`, 'm'));
  assert.match(r.stdout, /\/proc\/self\/fd\n$/);
});

testIf(noRun, '--mask hides a file and a directory (absent paths ignored), --ro makes /proc/sys read-only', async () => {
  mkdirSync(join(rootfs, 'opt/secretdir'), { recursive: true });
  writeFileSync(join(rootfs, 'opt/secretdir/key'), 'k');
  writeFileSync(join(rootfs, 'opt/secret'), 'secret\n');
  const r = await run(['--unshare-uts', '--mask', '/proc/kcore', '--mask', '/opt/secret', '--mask', '/opt/secretdir', '--ro', '/proc/sys'], sh('cat /opt/secret; ls /opt/secretdir; echo -n "[done]"; echo x > /proc/sys/kernel/domainname'));
  assert.is(r.stdout, '[done]');
  assert.match(r.stderr, /Read-only file system/);
  assert.is(r.code, 1);
});

testIf(noRun, '--unshare-net gives only loopback and a sysfs of its own; without it /sys is the host\'s, read-only', async () => {
  const own = await run(['--unshare-net', '--unshare-ipc', '--sys', '/sys'], sh('ls /sys/class/net; grep -E " /sys | /dev/mqueue " /proc/mounts | cut -d" " -f1,3,4'));
  assert.is(own.code, 0, own.stderr);
  assert.match(own.stdout, /^lo\n/);
  assert.match(own.stdout, /\nsysfs sysfs ro,/);
  assert.match(own.stdout, /\nmqueue mqueue rw,/);
  const host = await run(['--sys', '/sys'], sh('grep " /sys " /proc/mounts | cut -d" " -f1,4; echo x > /sys/kernel/x'));
  assert.match(host.stdout, /^sysfs ro,/);
  assert.match(host.stderr, /Read-only file system/);
});

testIf(noRun, '--file writes a file from an fd', async () => {
  const r = await run(['--file', '4', '/etc/hostname', '--file', '5', '/etc/new/hosts'], sh('cat /etc/hostname /etc/new/hosts'), ['box-name\n', '127.0.0.1 localhost\n']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'box-name\n127.0.0.1 localhost\n');
});

testIf(noRun, '--args reads the options NUL-separated from an fd', async () => {
  const h = spawn(HELPER_BIN, ['run', '--args', '3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const list = ['run-args-ignored-first'].slice(1).concat(mapArgs, baseArgs(), ['--setenv', 'SECRET', 'not in cmdline', '--', 'sh', '-c', 'echo $SECRET']);
  (h.stdio[3] as Writable).end(list.map((a) => `${a}\0`).join(''));
  h.stdin!.end();
  let out = '';
  h.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const code = await withTimeout(new Promise<number | null>((res) => h.on('close', res)), 20_000, '--args');
  assert.is(code, 0);
  assert.is(out, 'not in cmdline\n');
});

testIf(noRun, 'exit statuses: the command\'s, 126 not executable, 127 not found, 128+9 for SIGKILL', async () => {
  assert.is((await run([], ['true'])).code, 0);
  const three = await run([], sh('exit 3'));
  assert.is(three.code, 3);
  assert.equal(three.status.at(-1), { event: 'exit', code: 3 });
  const notFound = await run([], ['no-such-command']);
  assert.is(notFound.code, 127);
  assert.is(lastError(notFound), 'no-such-command: command not found (ENOENT)');
  const notExec = await run([], ['/etc/passwd']);
  assert.is(notExec.code, 126);
  assert.is(lastError(notExec), 'cannot run /etc/passwd (EACCES)');

  const h = startHelper([], ['sleep', '30']);
  const pid = await withTimeout(waitForEvent(h, 'pid'), 10_000, 'pid event');
  process.kill(pid.pid as number, 'SIGKILL');
  const killed = await withTimeout(h.done, 10_000, 'killed container');
  assert.is(killed.code, 137);
  assert.equal(killed.status.at(-1), { event: 'exit', signal: 9 });
});

async function waitForEvent(h: HelperRun, event: string): Promise<Record<string, unknown>> {
  for (;;) {
    const found = h.statusLines().find((l) => l.event === event);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForOutput(h: HelperRun, text: string): Promise<void> {
  while (!h.stdout().includes(text)) await new Promise((r) => setTimeout(r, 20));
}

testIf(noRun, 'SIGTERM to the helper reaches a trapping shell, which exits with its code', async () => {
  const h = startHelper([], sh('trap "exit 7" TERM; echo ready; while true; do sleep 0.1; done'));
  await withTimeout(waitForOutput(h, 'ready'), 10_000, 'ready');
  h.child.kill('SIGTERM');
  const r = await withTimeout(h.done, 10_000, 'trapped exit');
  assert.is(r.code, 7);
});

testIf(noRun, '--init reaps orphaned zombies and forwards signals to the command', async () => {
  const r = await run(['--init'], sh('(sleep 0.1 &); sleep 0.6; cat /proc/[0-9]*/stat | grep -c ") Z " ; cat /proc/1/comm'));
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '0\ntsbox-helper\n');
  const h = startHelper(['--init'], ['sleep', '30']);
  await withTimeout(waitForEvent(h, 'pid'), 10_000, 'pid event');
  await new Promise((res) => setTimeout(res, 200));
  h.child.kill('SIGTERM');
  const term = await withTimeout(h.done, 10_000, 'init forwarded SIGTERM');
  assert.is(term.code, 128 + 15);
});

testIf(noRun, 'no file descriptor of the helper leaks into the command', async () => {
  const r = await run(['--file', '4', '/etc/x'], ['ls', '/proc/self/fd'], ['x']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '0\n1\n2\n3\n');
});

testIf(noRun, '--cap keeps only the listed capabilities, --no-new-privs sets NoNewPrivs', async () => {
  const r = await run(['--cap', 'CAP_CHOWN,CAP_KILL', '--no-new-privs'], sh('grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)" /proc/self/status'));
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /CapPrm:\s+0000000000000021/);
  assert.match(r.stdout, /CapEff:\s+0000000000000021/);
  assert.match(r.stdout, /CapBnd:\s+0000000000000021/);
  assert.match(r.stdout, /CapAmb:\s+0000000000000000/);
  assert.match(r.stdout, /NoNewPrivs:\s+1/);
  const none = await run([], sh('grep NoNewPrivs /proc/self/status'));
  assert.match(none.stdout, /NoNewPrivs:\s+0/);
});

/** struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }, little-endian. */
function bpf(program: [number, number, number, number][]): Buffer {
  const b = Buffer.alloc(program.length * 8);
  program.forEach(([code, jt, jf, k], i) => {
    b.writeUInt16LE(code, i * 8);
    b.writeUInt8(jt, i * 8 + 2);
    b.writeUInt8(jf, i * 8 + 3);
    b.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return b;
}

testIf(noRun ?? (process.arch === 'x64' ? undefined : 'the BPF program is for x86_64'), '--seccomp loads a filter: mkdir fails with EPERM, the rest works', async () => {
  // load nr; mkdir (83) or mkdirat (258) -> ERRNO(EPERM); else ALLOW
  const filter = bpf([
    [0x20, 0, 0, 0],
    [0x15, 2, 0, 83],
    [0x15, 1, 0, 258],
    [0x06, 0, 0, 0x7fff0000],
    [0x06, 0, 0, 0x00050001],
  ]);
  for (const nnp of [[], ['--no-new-privs']]) {
    const r = await run(['--seccomp', '4', ...nnp], sh('echo before; mkdir /tmp/x'), [filter]);
    assert.is(r.stdout, 'before\n');
    assert.match(r.stderr, /Operation not permitted/);
    assert.is(r.code, 1);
  }
  const bad = await run(['--seccomp', '4'], ['true'], [Buffer.from('abc')]);
  assert.is(bad.code, 125);
  assert.is(bad.status[0]!.stage, 'seccomp');
});

testIf(noRun ?? (process.arch === 'x64' ? undefined : 'the BPF program is for x86_64'), '--init: pid 1 keeps no more than the command: its user, capabilities, no_new_privs and seccomp filter', async () => {
  const filter = bpf([[0x06, 0, 0, 0x7fff0000]]); // allow everything: only its presence is checked
  const fields = 'grep -E "^(Uid|Gid|Cap(Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/$1/status';
  // root keeps the listed capabilities; any other user has none after exec, and pid 1 gives them up too
  for (const [user, uid, effective] of [[[], '0', '0000000000000021'], [['--user', '1000:1000'], '1000', '0000000000000000']] as const) {
    const r = await run(
      ['--init', ...user, '--cap', 'CAP_CHOWN,CAP_KILL', '--no-new-privs', '--seccomp', '4'],
      sh(`f() { ${fields}; }; f 1; echo --; f self`),
      [filter],
    );
    assert.is(r.code, 0, r.stderr);
    const [init, command] = r.stdout.split('--\n');
    assert.is(init, command, 'pid 1 (the init) and the command are alike');
    assert.match(init!, new RegExp(`Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}`));
    assert.match(init!, new RegExp(`CapEff:\\s+${effective}`));
    assert.match(init!, /CapBnd:\s+0000000000000021/);
    assert.match(init!, /NoNewPrivs:\s+1/);
    assert.match(init!, /Seccomp:\s+2/);
  }
});

testIf(noRun, 'status fd: a namespaces event, a pid event once the root is ready, the command waits for the sync byte, then an exit event', async () => {
  const h = startHelper(['--sync-fd', '4'], ['echo', 'started'], [undefined]);
  const pid = await withTimeout(waitForEvent(h, 'pid'), 10_000, 'pid event');
  assert.ok(typeof pid.pid === 'number' && pid.pid > 1);
  assert.ok(existsSync(`/proc/${pid.pid}`));
  await new Promise((r) => setTimeout(r, 300));
  assert.is(h.stdout(), '', 'the command did not start before the byte');
  (h.child.stdio[4] as Writable).end('x');
  const r = await withTimeout(h.done, 10_000, 'after sync');
  assert.is(r.stdout, 'started\n');
  assert.equal(r.status, [{ event: 'namespaces', pid: pid.pid }, { event: 'pid', pid: pid.pid }, { event: 'started' }, { event: 'exit', code: 0 }]);
});

testIf(noRun, 'a closed sync fd aborts with 125 before the command runs', async () => {
  const r = await run(['--sync-fd', '4'], ['echo', 'started'], ['']);
  assert.is(r.code, 125);
  assert.is(r.stdout, '');
  assert.is(r.status.at(-1)!.stage, 'sync');
});

testIf(noRun, 'a failed mount is one error event with stage and errno, nothing on stderr, exit 125', async () => {
  const r = await run(['--bind', join(work, 'no-such-dir'), '/mnt'], ['true']);
  assert.is(r.code, 125);
  assert.is(r.stderr, '');
  // the namespaces existed (a network could have been starting): no pid event, the root never got ready
  assert.equal(r.status.map((e) => e.event), ['namespaces', 'error']);
  assert.equal(r.status[1], { event: 'error', stage: 'mount', errno: 'ENOENT', message: `open bind source ${join(work, 'no-such-dir')}` });
});

testIf(noRun, '--remove-after-exit removes a directory with files the container wrote', async () => {
  const dir = join(work, 'rm-me');
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  const r = await run(['--bind', dir, '/data', '--remove-after-exit', dir], sh('mkdir -p /data/a/b && echo x > /data/a/b/f && chmod 000 /data/a'));
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(dir));
});

testIf(noRun, 'hostile: a bind destination that is a symlink out of the root lands inside the root', async () => {
  const victim = join(work, 'host-victim');
  mkdirSync(victim);
  symlinkSync(victim, join(rootfs, 'escape'));
  symlinkSync('../../../../../../../../..' + victim, join(rootfs, 'escape-up'));
  symlinkSync('/', join(rootfs, 'to-root'));
  const src = join(work, 'hostile-src');
  mkdirSync(src);
  writeFileSync(join(src, 'marker'), 'm\n');
  const r = await run(['--bind', src, '/escape', '--bind', src, '/escape-up/sub', '--tmpfs', '/to-root/mnt', '-'], sh('cat /escape/marker /escape-up/sub/marker; grep -c " /mnt tmpfs" /proc/mounts'));
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'm\nm\n1\n');
  assert.equal(readdirSync(victim), []);
  assert.ok(existsSync(join(rootfs, victim.slice(1))), 'the mount point was made inside the root');
});

testIf(noRun, 'hostile: --chdir through a symlink to a host path stays in the container', async () => {
  const hostDir = join(work, 'host-only');
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'host-file'), 'h');
  symlinkSync(hostDir, join(rootfs, 'workdir-link'));
  const r = await run([], ['ls'], [], [...baseArgs(), '--chdir', '/workdir-link']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  const magic = await run(['--chdir', '/proc/self/cwd'], ['ls']);
  assert.not.match(magic.stdout, /host-file/);
});

testIf(noRun, 'hostile: a symlinked /etc/passwd pointing to a host file is read inside the container', async () => {
  const dir = join(work, 'passwd-root');
  makeRootfs(dir);
  const hostPasswd = join(work, 'host-passwd');
  writeFileSync(hostPasswd, 'hostonly:x:4242:4242::/hostonly:/bin/sh\n');
  rmSync(join(dir, 'etc/passwd'));
  symlinkSync(hostPasswd, join(dir, 'etc/passwd'));
  const m = join(work, 'passwd-merged');
  mkdirSync(m);
  const r = await run(['--user', 'hostonly'], ['id'], [], ['--rootfs', dir, m, '--setenv', 'PATH', '/bin']);
  assert.is(r.code, 125);
  assert.match(lastError(r), /unable to find user hostonly/);
});

testIf(noRun ?? (existsSync('/usr/bin/script') ? undefined : 'script(1) is not installed'), '--tty gives the command a pty of the container\'s devpts', async () => {
  const command = [HELPER_BIN, 'run', ...mapArgs, ...baseArgs(), '--tty', '--', 'sh', '-c', 'tty; echo cols=$(stty size 2>/dev/null)'].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 20_000, input: '' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /\/dev\/pts\/0/);
  // with --init the command, not the reaper, gets the terminal
  const initCommand = command.replace("'--tty'", "'--tty' '--init'");
  const withInit = spawnSync('script', ['-qec', initCommand, '/dev/null'], { encoding: 'utf8', timeout: 20_000, input: '' });
  assert.is(withInit.status, 0, withInit.stderr);
  assert.match(withInit.stdout, /\/dev\/pts\/0/);
});

test.run();
