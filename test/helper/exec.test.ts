// Drives `tsbox-helper exec` directly, as the unprivileged user, against a
// container that `tsbox-helper run` keeps running: the namespaces and root
// joined, identity, directory, environment, exit statuses, signals,
// capabilities, seccomp, the pty, and no leaked fds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { HELPER_BIN } from '../lib/tsbox.js';
import { waitFor, withTimeout } from '../lib/timeout.js';
import { currentMapping, findMappingTools } from '../../core/userns/mapping.js';
import { usernsHelperArgs } from '../../core/userns/helper.js';
import { conditionalTest } from '../lib/skip.js';

const mapping = currentMapping();
const foundTools = findMappingTools();
const tools = 'missing' in foundTools ? undefined : foundTools;
const fullMapping = mapping.full && tools !== undefined;
const mapArgs = usernsHelperArgs(fullMapping ? mapping : { uids: [{ inside: 0, outside: process.getuid!(), count: 1 }], gids: [{ inside: 0, outside: process.getgid!(), count: 1 }], full: false }, tools);

const work = mkdtempSync(join(tmpdir(), 'tsbox-exec-test-'));
const BUSYBOX_APPLETS = ['sh', 'echo', 'cat', 'ls', 'id', 'hostname', 'ps', 'sleep', 'true', 'grep', 'tty', 'env', 'pwd', 'readlink', 'mkdir', 'kill', 'sort'];

/** A minimal root (as run.test.ts's): static busybox, passwd (root 0, app 1000) and group (app 1000, extra 2000 with app). */
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

interface HelperResult {
  code: number | null;
  stdout: string;
  stderr: string;
  status: Record<string, unknown>[];
}

interface Helper {
  child: ReturnType<typeof spawn>;
  stdout: () => string;
  statusLines: () => Record<string, unknown>[];
  done: Promise<HelperResult>;
}

/** Starts the helper in `mode`; fd 3 is the status fd, `fds` adds fds 4.. with the given contents (undefined: an open pipe). */
function startHelper(args: string[], fds: (string | Buffer | undefined)[] = []): Helper {
  const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe', ...fds.map(() => 'pipe' as const)];
  const child = spawn(HELPER_BIN, args, { stdio });
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
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err, status: parse() }));
  });
  return { child, stdout: () => out, statusLines: parse, done };
}

const waitForEvent = (h: Helper, event: string) => waitFor(() => h.statusLines().find((l) => l.event === event), 10_000, `${event} event`);

// The container: its own uts, ipc and net namespaces, a tmpfs only its
// mount namespace has, and sleep as pid 1 (sh execs it).
const CONTAINER_SCRIPT = 'echo from-run > /scratch/marker; exec sleep 30';
function startContainer(): Helper {
  return startHelper(['run', ...mapArgs, '--unshare-uts', '--unshare-ipc', '--unshare-net', '--hostname', 'box1', '--rootfs', rootfs, merged, '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/scratch', '-', '--setenv', 'PATH', '/bin', '--status-fd', '3', '--', 'sh', '-c', CONTAINER_SCRIPT]);
}

let container: Helper | undefined;
let target = 0;

function execArgs(options: string[], command: string[], statusFd = true): string[] {
  return ['exec', '--target', String(target), ...(statusFd ? ['--status-fd', '3'] : []), '--setenv', 'PATH', '/bin', ...options, '--', ...command];
}

function exec(options: string[], command: string[], fds: (string | Buffer | undefined)[] = []): Promise<HelperResult> {
  return withTimeout(startHelper(execArgs(options, command), fds).done, 20_000, `tsbox-helper exec ${command.join(' ')}`);
}

const sh = (script: string) => ['sh', '-c', script];

function whyNoRun(): string | undefined {
  const probe = spawnSync(HELPER_BIN, ['run', ...mapArgs, '--rootfs', rootfs, merged, '--', '/bin/true'], { encoding: 'utf8', timeout: 10_000 });
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


test.before(async () => {
  if (noRun) return;
  container = startContainer();
  target = (await waitForEvent(container, 'pid')).pid as number;
  // the container's first process writes the marker before it becomes sleep
  await waitFor(async () => ((await exec([], ['cat', '/scratch/marker'])).stdout === 'from-run\n' ? true : undefined), 10_000, 'the container to start');
});

test.after(async () => {
  if (container && container.child.exitCode === null) {
    container.child.kill('SIGKILL');
    await withTimeout(container.done, 10_000, 'the container to stop');
  }
  rmSync(work, { recursive: true, force: true });
});

testIf(noRun, 'joins the container: its namespaces, root, mounts, hostname; sleep is pid 1', async () => {
  const names = ['user', 'mnt', 'pid', 'net', 'ipc', 'uts'];
  const r = await exec([], sh(`hostname; cat /scratch/marker; ps -o pid,comm | grep -w 1; for n in ${names.join(' ')}; do [ "$(readlink /proc/1/ns/$n)" = "$(readlink /proc/self/ns/$n)" ] && echo same-$n; done; ls /`));
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.is(lines[0], 'box1');
  assert.is(lines[1], 'from-run');
  assert.match(lines[2]!, /^\s*1\s+sleep$/);
  assert.equal(lines.slice(3, 3 + names.length), names.map((n) => `same-${n}`));
  // the container's root, not the host's
  assert.equal(lines.slice(3 + names.length).filter(Boolean).sort(), ['bin', 'dev', 'etc', 'home', 'proc', 'scratch', 'sys', 'tmp']);
  // the pid event names the command's host pid, started follows its exec, exit its status
  assert.is(r.status.length, 3);
  assert.is(r.status[0]!.event, 'pid');
  assert.ok(typeof r.status[0]!.pid === 'number' && r.status[0]!.pid !== target);
  assert.equal(r.status.slice(1), [{ event: 'started' }, { event: 'exit', code: 0 }]);
});

testIf(noRun, 'root in the container by default, with every capability', async () => {
  const r = await exec([], sh('id; grep -E "^Cap(Eff|Bnd)" /proc/self/status'));
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/);
  // every capability of the bounding set (the container's first process has them all too), CAP_SYS_ADMIN among them
  const effective = /CapEff:\s+([0-9a-f]+)/.exec(r.stdout)![1]!;
  assert.is(effective, /CapBnd:\s+([0-9a-f]+)/.exec(r.stdout)![1], r.stdout);
  assert.ok((BigInt(`0x${effective}`) >> 21n) & 1n, r.stdout);
});

testIf(noFull, '--user 1000 and --user app:extra resolve through the container passwd and group', async () => {
  const byId = await exec(['--user', '1000'], sh('id; echo $HOME'));
  assert.is(byId.code, 0, byId.stderr);
  assert.is(byId.stdout, 'uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)\n/home/app\n');
  const byName = await exec(['--user', 'app:extra'], sh('id -u; id -g'));
  assert.is(byName.stdout, '1000\n2000\n');
  const unknown = await exec(['--user', 'nobody-here'], ['true']);
  assert.is(unknown.code, 125);
  assert.match(lastError(unknown), /unable to find user nobody-here/);
  assert.is(unknown.status.at(-1)!.stage, 'user');
});

testIf(noRun, '--chdir, --clearenv and --setenv; a missing directory is an error and is not created', async () => {
  const r = await exec(['--clearenv', '--setenv', 'PATH', '/bin', '--setenv', 'GREETING', 'hello world', '--chdir', '/home/app'], sh('pwd; env | grep -v -e ^PWD= -e ^SHLVL= | sort'));
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '/home/app\nGREETING=hello world\nPATH=/bin\n');
  const missing = await exec(['--chdir', '/no/such/dir'], ['true']);
  assert.is(missing.code, 125);
  assert.is(missing.stderr, '');
  assert.equal(missing.status.at(-1), { event: 'error', stage: 'chdir', errno: 'ENOENT', message: 'chdir /no/such/dir' });
  assert.not.ok(existsSync(join(rootfs, 'no')));
});

testIf(noRun, 'exit statuses: the command\'s, 127 not found, 126 not executable, 128+N for a signal', async () => {
  assert.is((await exec([], ['true'])).code, 0);
  const three = await exec([], sh('exit 3'));
  assert.is(three.code, 3);
  assert.equal(three.status.at(-1), { event: 'exit', code: 3 });
  const notFound = await exec([], ['no-such-command']);
  assert.is(notFound.code, 127);
  assert.is(lastError(notFound), 'no-such-command: command not found (ENOENT)');
  assert.equal(notFound.status.slice(1).map((e) => e.event), ['error', 'exit'], 'no started event when exec failed');
  const notExec = await exec([], ['/etc/passwd']);
  assert.is(notExec.code, 126);
  assert.is(lastError(notExec), 'cannot run /etc/passwd (EACCES)');
  // not pid 1 of its namespace: its own SIGKILL ends it
  const killed = await exec([], sh('kill -9 $$'));
  assert.is(killed.code, 137);
  assert.equal(killed.status.at(-1), { event: 'exit', signal: 9 });
});

testIf(noRun, 'signals to the helper reach the command; the container keeps running', async () => {
  const h = startHelper(execArgs([], sh('trap "exit 7" TERM; trap "exit 8" USR1; echo ready; while true; do sleep 0.1; done')));
  await waitFor(() => (h.stdout().includes('ready') ? true : undefined), 10_000, 'ready');
  h.child.kill('SIGTERM');
  assert.is((await withTimeout(h.done, 10_000, 'trapped TERM')).code, 7);
  const u = startHelper(execArgs([], sh('trap "exit 8" USR1; echo ready; while true; do sleep 0.1; done')));
  await waitFor(() => (u.stdout().includes('ready') ? true : undefined), 10_000, 'ready');
  u.child.kill('SIGUSR1');
  assert.is((await withTimeout(u.done, 10_000, 'trapped USR1')).code, 8);
  assert.is(container!.child.exitCode, null);
  assert.ok(existsSync(`/proc/${target}`));
});

testIf(noRun, '--cap keeps only the listed capabilities, --no-new-privs sets NoNewPrivs', async () => {
  const r = await exec(['--cap', 'CAP_CHOWN,CAP_KILL', '--no-new-privs'], sh('grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)" /proc/self/status'));
  assert.is(r.code, 0, r.stderr);
  for (const set of ['Prm', 'Eff', 'Bnd']) assert.match(r.stdout, new RegExp(`Cap${set}:\\s+0000000000000021`));
  assert.match(r.stdout, /CapAmb:\s+0000000000000000/);
  assert.match(r.stdout, /NoNewPrivs:\s+1/);
  // as user 1000, as under run and podman: the bounding set is the kept
  // one, nothing effective (exec of a non-root user clears it)
  if (fullMapping) {
    const user = await exec(['--user', '1000', '--cap', 'CAP_KILL'], sh('grep -E "^Cap(Eff|Bnd)" /proc/self/status'));
    assert.match(user.stdout, /CapEff:\s+0000000000000000/);
    assert.match(user.stdout, /CapBnd:\s+0000000000000020/);
  }
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
    const r = await exec(['--seccomp', '4', ...nnp], sh('echo before; mkdir /tmp/x-seccomp'), [filter]);
    assert.is(r.stdout, 'before\n');
    assert.match(r.stderr, /Operation not permitted/);
    assert.is(r.code, 1);
  }
  const unfiltered = await exec([], sh('mkdir /tmp/x-unfiltered && echo made'));
  assert.is(unfiltered.stdout, 'made\n');
  const bad = await exec(['--seccomp', '4'], ['true'], [Buffer.from('abc')]);
  assert.is(bad.code, 125);
  assert.is(bad.status[0]!.stage, 'seccomp');
});

testIf(noRun, 'no file descriptor of the helper leaks into the command', async () => {
  // fd 4 is an open pipe the helper inherited; ls's own directory is fd 3
  const r = await exec([], ['ls', '/proc/self/fd'], [undefined]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '0\n1\n2\n3\n');
});

testIf(noRun, '--args reads the options NUL-separated from an fd', async () => {
  const h = spawn(HELPER_BIN, ['exec', '--args', '3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const list = ['--target', String(target), '--setenv', 'PATH', '/bin', '--setenv', 'SECRET', 'not in cmdline', '--', 'sh', '-c', 'echo $SECRET; hostname'];
  (h.stdio[3] as Writable).end(list.map((a) => `${a}\0`).join(''));
  h.stdin!.end();
  let out = '';
  h.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const code = await withTimeout(new Promise<number | null>((res) => h.on('close', res)), 20_000, '--args');
  assert.is(code, 0);
  assert.is(out, 'not in cmdline\nbox1\n');
});

testIf(noRun ?? (existsSync('/usr/bin/script') ? undefined : 'script(1) is not installed'), '--tty gives the command a pty of the container\'s devpts', async () => {
  const command = [HELPER_BIN, ...execArgs(['--tty'], sh('tty; readlink /proc/self/fd/1; echo done'), false)].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 20_000, input: '' });
  assert.is(r.status, 0, r.stderr);
  // script(1) may echo its stdin's EOF first; stdout is the pty, CR LF as a terminal's
  assert.match(r.stdout, /\/dev\/pts\/(\d+)\r\n\/dev\/pts\/\1\r\ndone\r\n$/);
});

testIf(noRun, 'a target that has exited: an error event, nothing on stderr, 125', async () => {
  const gone = spawnSync('true');
  const dead = gone.pid!;
  const r = await withTimeout(startHelper(['exec', '--target', String(dead), '--status-fd', '3', '--', 'true']).done, 10_000, 'exec into a dead pid');
  assert.is(r.code, 125);
  assert.is(r.stderr, '');
  assert.equal(r.status, [{ event: 'error', stage: 'target', errno: 'ENOENT', message: `open /proc/${dead}/root` }]);
});

test.run();
