// Drives `tsbox-helper run` as a container monitor (podman's conmon job), as
// the unprivileged user, against a busybox root: the k8s-file log, the attach
// socket and its frames, the exit file and exit command, --detach, the
// container's death with its monitor, and what an idle monitor costs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
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

const work = mkdtempSync(join(tmpdir(), 'tsbox-monitor-test-'));
const BUSYBOX_APPLETS = ['sh', 'true', 'echo', 'printf', 'cat', 'ls', 'sleep', 'test', 'tty', 'stty', 'kill', 'dd', 'touch'];
const busyboxApplets = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).stdout ?? '';

/** A minimal root: static busybox and the applets above. */
function makeRootfs(dir: string): string {
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'dev', 'sys']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of BUSYBOX_APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
  return dir;
}

const rootfs = makeRootfs(join(work, 'rootfs'));
const merged = join(work, 'merged');
mkdirSync(merged);
chmodSync(work, 0o755);
chmodSync(join(rootfs, 'tmp'), 0o1777);

const baseArgs = () => ['--rootfs', rootfs, merged, '--proc', '/proc', '--dev', '/dev', '--setenv', 'PATH', '/bin'];
const sh = (script: string) => ['sh', '-c', script];
let counter = 0;
/** A fresh path in the work directory. */
const fresh = (name: string) => join(work, `${name}-${++counter}`);

interface HelperResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  status: Record<string, unknown>[];
}

interface HelperRun {
  child: ReturnType<typeof spawn>;
  statusLines: () => Record<string, unknown>[];
  /** Sends the start byte on the sync fd (fd 4), when started with `sync`. */
  start: () => void;
  done: Promise<HelperResult>;
}

/** Starts `tsbox-helper run`; fd 3 is the status fd, fd 4 the sync fd when `sync` is set. */
function startHelper(options: string[], command: string[], { sync = false } = {}): HelperRun {
  const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe', ...(sync ? ['pipe' as const] : [])];
  const syncArgs = sync ? ['--sync-fd', '4'] : [];
  const child = spawn(HELPER_BIN, ['run', ...mapArgs, ...baseArgs(), '--status-fd', '3', ...syncArgs, ...options, '--', ...command], { stdio });
  let out = '';
  let err = '';
  let status = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  (child.stdio[3] as Readable).on('data', (b: Buffer) => (status += b.toString()));
  child.stdin!.end();
  const syncStream = sync ? (child.stdio[4] as Writable) : undefined;
  syncStream?.on('error', () => {});
  const parse = () => status.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const done = new Promise<HelperResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err, status: parse() }));
  });
  return { child, statusLines: parse, start: () => syncStream?.end('S'), done };
}

function run(options: string[], command: string[]): Promise<HelperResult> {
  return withTimeout(startHelper(options, command).done, 20_000, `tsbox-helper run ${command.join(' ')}`);
}

function waitForEvent(h: HelperRun, event: string): Promise<Record<string, unknown>> {
  return waitFor(() => h.statusLines().find((l) => l.event === event), 10_000, `the ${event} event`);
}

interface LogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  tag: 'F' | 'P';
  text: string;
}

const RECORD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([FP]) (.*)$/s;

/** Parses a k8s-file log; every line must be a record. */
function readLog(path: string): LogRecord[] {
  const text = readFileSync(path, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `the log ends with a newline: ${JSON.stringify(text)}`);
  return text.split('\n').slice(0, -1).map((line) => {
    const m = RECORD.exec(line);
    assert.ok(m, `a k8s-file record: ${JSON.stringify(line)}`);
    return { time: m![1], stream: m![2] as 'stdout' | 'stderr', tag: m![3] as 'F' | 'P', text: m![4] };
  });
}

/** The stream's output as the container wrote it, rebuilt from F and P records. */
function logText(records: LogRecord[], stream: 'stdout' | 'stderr'): string {
  return records.filter((r) => r.stream === stream).map((r) => r.text + (r.tag === 'F' ? '\n' : '')).join('');
}

const FRAME = { stdin: 0, resize: 1, stdinEof: 2, stdout: 1, stderr: 2, exit: 3 } as const;

/** A client of the attach socket: frames are 1 byte kind, 4 bytes big-endian length, payload. */
class AttachClient {
  readonly socket: Socket;
  readonly frames: { kind: number; payload: Buffer }[] = [];
  readonly closed: Promise<void>;
  readonly connected: Promise<void>;
  private pending = Buffer.alloc(0);

  constructor(path: string, { read = true } = {}) {
    this.socket = createConnection(path);
    this.socket.on('error', () => {});
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    if (!read) {
      this.socket.pause();
      return;
    }
    this.socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 5) {
        const length = this.pending.readUInt32BE(1);
        if (this.pending.length < 5 + length) break;
        this.frames.push({ kind: this.pending[0], payload: this.pending.subarray(5, 5 + length) });
        this.pending = this.pending.subarray(5 + length);
      }
    });
  }

  send(kind: number, payload: Buffer | string = Buffer.alloc(0)): void {
    const body = Buffer.from(payload);
    const header = Buffer.alloc(5);
    header[0] = kind;
    header.writeUInt32BE(body.length, 1);
    this.socket.write(Buffer.concat([header, body]));
  }

  text(kind: number): string {
    return Buffer.concat(this.frames.filter((f) => f.kind === kind).map((f) => f.payload)).toString();
  }

  exitCode(): number | undefined {
    const frame = this.frames.find((f) => f.kind === FRAME.exit);
    return frame?.payload.readInt32BE(0);
  }
}

/** Gone, or a zombie nobody has reaped yet: either way no longer running. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function procStatusField(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim() ?? '';
}

/** User plus system CPU ticks of pid so far. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function whyNoRun(): string | undefined {
  const probe = spawnSync(HELPER_BIN, ['run', ...mapArgs, ...baseArgs(), '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `cannot run ${HELPER_BIN}: ${probe.error.message} (run npm run build)`;
  if (probe.status !== 0) return `cannot run a container here: ${probe.stderr.trim()}`;
  return undefined;
}
const noRun = whyNoRun();
const testIf = conditionalTest(test);

test.after(() => rmSync(work, { recursive: true, force: true }));

testIf(noRun, '--log-file: stdout and stderr as k8s-file records, F for lines and P for a partial last line; appended, 0600', async () => {
  const log = fresh('ctr.log');
  const r = await run(['--log-file', log], sh('echo out1; echo err1 >&2; echo; echo out2; printf partial'));
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '', 'the container\'s output is not on the monitor\'s own stdout');
  const records = readLog(log);
  assert.equal(records.filter((x) => x.stream === 'stdout').map((x) => `${x.tag} ${x.text}`), ['F out1', 'F ', 'F out2', 'P partial']);
  assert.equal(records.filter((x) => x.stream === 'stderr').map((x) => `${x.tag} ${x.text}`), ['F err1']);
  const now = Date.now();
  for (const rec of records) assert.ok(Math.abs(Date.parse(rec.time) - now) < 60_000, rec.time);
  assert.is(statSync(log).mode & 0o777, 0o600);

  const again = await run(['--log-file', log], sh('echo second run'));
  assert.is(again.code, 0, again.stderr);
  assert.is(logText(readLog(log), 'stdout'), 'out1\n\nout2\npartialsecond run\n');
});

testIf(noRun, 'with the monitor options no fd of the monitor leaks into the container; stdin is /dev/null without --stdin-pipe', async () => {
  const log = fresh('ctr.log');
  const options = ['--log-file', log, '--attach-socket', fresh('attach'), '--exit-file', fresh('exit'), '--stdin-pipe'];
  const r = await run(options, ['ls', '/proc/self/fd']);
  assert.is(r.code, 0, r.stderr);
  assert.is(logText(readLog(log), 'stdout'), '0\n1\n2\n3\n');
  const nullLog = fresh('ctr.log');
  const n = await run(['--log-file', nullLog], sh('cat; echo "[read $?]"'));
  assert.is(n.code, 0, n.stderr);
  assert.is(logText(readLog(nullLog), 'stdout'), '[read 0]\n');
});

testIf(noRun, '--tty with --log-file: the terminal\'s output is logged as stdout', async () => {
  const log = fresh('ctr.log');
  const r = await run(['--tty', '--log-file', log], sh('tty; echo hello from the pty'));
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  const out = logText(readLog(log), 'stdout');
  assert.match(out, /^\/dev\/pts\/\d+\r\nhello from the pty\r\n$/);
  assert.is(logText(readLog(log), 'stderr'), '');
});

testIf(noRun, '--attach-socket: a client gets stdout, stderr and the exit frame, and feeds stdin through --stdin-pipe', async () => {
  const socketPath = fresh('attach');
  const log = fresh('ctr.log');
  const h = startHelper(['--attach-socket', socketPath, '--stdin-pipe', '--log-file', log], sh('echo ready; cat; echo after >&2; exit 5'), { sync: true });
  await waitForEvent(h, 'pid');
  assert.is(statSync(socketPath).mode & 0o777, 0o600);
  assert.ok(statSync(socketPath).isSocket());
  // connected before the start byte: the client sees all of the output
  const client = new AttachClient(socketPath);
  await withTimeout(client.connected, 5_000, 'connect to the attach socket');
  h.start();
  await waitFor(() => (client.text(FRAME.stdout) === 'ready\n' ? true : undefined), 10_000, 'ready on stdout');
  client.send(FRAME.stdin, 'hello ');
  client.send(FRAME.stdin, 'through the socket\n');
  client.send(FRAME.stdinEof);
  await withTimeout(client.closed, 10_000, 'the monitor closes the client after the exit frame');
  assert.is(client.text(FRAME.stdout), 'ready\nhello through the socket\n');
  assert.is(client.text(FRAME.stderr), 'after\n');
  assert.is(client.exitCode(), 5);
  assert.is(client.frames.at(-1)!.kind, FRAME.exit);
  const r = await withTimeout(h.done, 10_000, 'the monitor exits');
  assert.is(r.code, 5);
  assert.not.ok(existsSync(socketPath), 'the socket is removed at exit');
  assert.is(logText(readLog(log), 'stdout'), 'ready\nhello through the socket\n');
});

testIf(noRun, '--attach-socket with --tty: a resize frame sets the pty\'s size, stdin frames reach the terminal', async () => {
  const socketPath = fresh('attach');
  const h = startHelper(['--tty', '--attach-socket', socketPath], sh('read line; echo "got $line"; tty; stty size 2>/dev/null || echo no-stty'), { sync: true });
  await waitForEvent(h, 'pid');
  const client = new AttachClient(socketPath);
  await withTimeout(client.connected, 5_000, 'connect to the attach socket');
  const size = Buffer.alloc(4);
  size.writeUInt16BE(33, 0);
  size.writeUInt16BE(101, 2);
  client.send(FRAME.resize, size);
  client.send(FRAME.stdin, 'typed\r');
  h.start();
  await withTimeout(client.closed, 10_000, 'the exit frame');
  const out = client.text(FRAME.stdout);
  assert.match(out, /got typed\r\n\/dev\/pts\/\d+\r\n/);
  if (busyboxApplets.split('\n').includes('stty')) assert.match(out, /\r\n33 101\r\n$/);
  else console.log('SKIP the stty size assertion: this busybox has no stty');
  assert.is(client.exitCode(), 0);
  assert.is((await withTimeout(h.done, 10_000, 'the monitor exits')).code, 0);
});

testIf(noRun, 'a client that does not read loses output; the container does not wait for it', async () => {
  const socketPath = fresh('attach');
  const log = fresh('ctr.log');
  const h = startHelper(['--attach-socket', socketPath, '--log-file', log], sh('dd if=/dev/zero bs=65536 count=64 2>/dev/null; echo end'), { sync: true });
  await waitForEvent(h, 'pid');
  const slow = new AttachClient(socketPath, { read: false });
  await withTimeout(slow.connected, 5_000, 'connect');
  h.start();
  const r = await withTimeout(h.done, 20_000, 'the container ends although a client reads nothing');
  assert.is(r.code, 0, r.stderr);
  const records = readLog(log);
  assert.is(records.filter((x) => x.stream === 'stdout').reduce((n, x) => n + x.text.length + (x.tag === 'F' ? 1 : 0), 0), 64 * 65536 + 4);
  assert.equal(records.at(-1)!.text, 'end');
  slow.socket.destroy();
});

testIf(noRun, '--exit-file: the exit code and the time, 128+N for a signal', async () => {
  const exitFile = fresh('exit');
  const r = await run(['--exit-file', exitFile], sh('exit 3'));
  assert.is(r.code, 3);
  const content = JSON.parse(readFileSync(exitFile, 'utf8')) as { exitCode: number; finishedAt: string };
  assert.is(content.exitCode, 3);
  assert.match(content.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.ok(Math.abs(Date.parse(content.finishedAt) - Date.now()) < 60_000);
  assert.not.ok(existsSync(`${exitFile}.tmp`));

  // a shell that is not pid 1 (--init) dies of its own SIGTERM
  const termFile = fresh('exit');
  const term = await run(['--init', '--exit-file', termFile], sh('kill -TERM $$; sleep 5'));
  assert.is(term.code, 143);
  assert.is(JSON.parse(readFileSync(termFile, 'utf8')).exitCode, 143);

  // pid 1 killed from outside: the wait status is a signal
  const killFile = fresh('exit');
  const h = startHelper(['--exit-file', killFile], ['sleep', '30']);
  const pid = (await waitForEvent(h, 'pid')).pid as number;
  await waitForEvent(h, 'started');
  process.kill(pid, 'SIGKILL');
  const killed = await withTimeout(h.done, 10_000, 'the killed container');
  assert.is(killed.code, 137);
  assert.is(JSON.parse(readFileSync(killFile, 'utf8')).exitCode, 137);
});

testIf(noRun, '--exit-command runs after the exit file is written, with its args, in its own session, with no fd of the monitor', async () => {
  const exitFile = fresh('exit');
  const out = fresh('exit-command-out');
  const script = 'echo "args: $1 $2"; cat "$3"; echo; ls /proc/self/fd; readlink /proc/self/fd/1; test "$(cut -d" " -f6 /proc/self/stat)" = "$$" && echo own-session';
  const r = await run(['--exit-file', exitFile, '--exit-command', '/bin/sh', '--exit-arg', '-c', '--exit-arg', `exec > ${out}.tmp; ${script}; mv ${out}.tmp ${out}`, '--exit-arg', 'sh', '--exit-arg', 'one', '--exit-arg', 'two', '--exit-arg', exitFile], sh('exit 6'));
  assert.is(r.code, 6);
  const text = await waitFor(() => (existsSync(out) ? readFileSync(out, 'utf8') : undefined), 10_000, 'the exit command\'s output');
  const [args, exitLine, ...rest] = text.split('\n');
  assert.is(args, 'args: one two');
  assert.is(JSON.parse(exitLine).exitCode, 6);
  // ls's own directory fd is 3; 1 was redirected by the script itself
  assert.equal(rest.filter(Boolean).slice(0, 4), ['0', '1', '2', '3']);
  assert.ok(rest.includes('own-session'), text);
});

/** Starts a detached monitor from a shell that exits at once, as `tsbox run -d` would. */
function startDetached(options: string[], command: string[]): { monitor: number; statusFile: string; stderr: string } {
  const statusFile = fresh('status');
  const quoted = [HELPER_BIN, 'run', ...mapArgs, ...baseArgs(), '--status-fd', '3', '--detach', ...options, '--', ...command].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // the caller's stdout and stderr are pipes; spawnSync returns only once every holder has closed them
  const r = spawnSync('setsid', ['sh', '-c', `${quoted} 3>'${statusFile}' & echo $!`], { encoding: 'utf8', timeout: 15_000, input: '' });
  assert.is(r.error, undefined, `the caller's pipes are released while the container runs: ${r.error?.message}`);
  assert.is(r.status, 0, r.stderr);
  return { monitor: Number(r.stdout.trim()), statusFile, stderr: r.stderr };
}

function statusEvents(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

testIf(noRun, '--detach: the caller returns, the monitor ignores SIGHUP and keeps the container until it ends; an idle monitor is small', async () => {
  const log = fresh('ctr.log');
  const exitFile = fresh('exit');
  const socketPath = fresh('attach');
  const stop = `stop-${counter}`;
  const { monitor, statusFile } = startDetached(['--init', '--log-file', log, '--exit-file', exitFile, '--attach-socket', socketPath], sh(`echo started; until test -e /tmp/${stop}; do sleep 0.1; done; echo finishing; exit 4`));
  const pid = await waitFor(() => statusEvents(statusFile).find((e) => e.event === 'pid')?.pid as number | undefined, 10_000, 'the pid event');
  await waitFor(() => (logText(readLog(log), 'stdout') === 'started\n' ? true : undefined), 10_000, 'started in the log');
  assert.ok(running(monitor) && running(pid));
  for (const fd of [0, 1, 2]) assert.is(readlinkSync(`/proc/${monitor}/fd/${fd}`), '/dev/null', `the monitor's fd ${fd}`);

  // with --init the shell is not pid 1: a SIGHUP passed on would end it (exit 129)
  process.kill(monitor, 'SIGHUP');
  const ticks = cpuTicks(monitor);
  await sleep(1_000);
  const used = cpuTicks(monitor) - ticks;
  const rss = procStatusField(monitor, 'VmRSS');
  console.log(`idle monitor: VmRSS ${rss}, ${used} CPU ticks in 1 s`);
  assert.ok(running(monitor) && running(pid), 'SIGHUP does not end a detached monitor or its container');
  assert.ok(Number(rss.split(/\s+/)[0]) < 8 * 1024, `an idle monitor stays small: ${rss}`);
  assert.ok(used < 20, `an idle monitor does not spin: ${used} ticks in 1 s`);

  writeFileSync(join(rootfs, 'tmp', stop), '');
  const exit = await waitFor(() => (existsSync(exitFile) ? JSON.parse(readFileSync(exitFile, 'utf8')) as { exitCode: number } : undefined), 10_000, 'the exit file');
  assert.is(exit.exitCode, 4);
  assert.is(logText(readLog(log), 'stdout'), 'started\nfinishing\n');
  await waitFor(() => (running(monitor) ? undefined : true), 10_000, 'the monitor exits');
  assert.not.ok(existsSync(socketPath));
});

testIf(noRun, 'kill -9 of the monitor ends the container; closing its status fd does not', async () => {
  const h = startHelper(['--detach', '--log-file', fresh('ctr.log')], ['sleep', '60']);
  const pid = (await waitForEvent(h, 'pid')).pid as number;
  await waitForEvent(h, 'started');
  (h.child.stdio[3] as Readable).destroy();
  h.child.stdout!.destroy();
  h.child.stderr!.destroy();
  await sleep(300);
  assert.ok(running(h.child.pid!) && running(pid), 'the monitor and the container outlive the status reader');
  process.kill(h.child.pid!, 'SIGKILL');
  await waitFor(() => (running(pid) ? undefined : true), 5_000, `the container (pid ${pid}) ends with its monitor`);
});
test.run();
