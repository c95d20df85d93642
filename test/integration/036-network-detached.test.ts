// startNetwork({ detached }) against the real kernel, as the unprivileged
// user: the node process that starts the backend exits, the backend keeps
// forwarding a published port into the stand-in container's netns, and
// stopNetworkProcess() from this (another) process ends it, but leaves a pid
// whose start time does not match alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor, withTimeout } from '../lib/timeout.js';
import { startNetwork, stopNetworkProcess, processStartTime, type NetworkInfo } from '../../core/network/index.js';
import { findProgram, type Backend } from '../../core/network/mode.js';
import { assignHostPorts } from '../../core/network/ports.js';
import { parsePublish } from '../../core/network/publish.js';
import { TsboxError } from '../../core/errors.js';
import { conditionalTest } from '../lib/skip.js';

const run = promisify(execFile);
const children: ChildProcess[] = [];
const backends: NetworkInfo[] = [];
const work = mkdtempSync(join(tmpdir(), 'tsbox-net-detached-'));
const www = join(work, 'www');
mkdirSync(www);
writeFileSync(join(www, 'index.html'), 'hello from the detached network\n');

function whyNot(backend: Backend): string | undefined {
  if (process.getuid!() === 0) return 'runs as an unprivileged user (tsboxtest), not root';
  if (!findProgram(backend)) return `${backend} is not installed`;
  for (const tool of ['unshare', 'nsenter', 'busybox']) if (!findProgram(tool)) return `${tool} is not installed`;
  const probe = spawnSync('unshare', ['--user', '--map-root-user', '--net', 'true'], { timeout: 10_000 });
  if (probe.status !== 0) return 'no user namespace can be made here';
  return undefined;
}

const testIf = conditionalTest(test);

/** A process in new user and network namespaces: the stand-in for a container. */
async function startContainerStandIn(): Promise<number> {
  const child = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '120'], { stdio: 'ignore' });
  children.push(child);
  const own = readlinkSync('/proc/self/ns/net');
  await waitFor(
    () => {
      try {
        return readlinkSync(`/proc/${child.pid}/ns/net`) !== own ? true : undefined;
      } catch {
        return undefined;
      }
    },
    5000,
    'the unshare process to enter its netns',
  );
  return child.pid!;
}

function serveInNetns(pid: number): void {
  const args = ['--preserve-credentials', '-U', '-n', '-t', String(pid), 'busybox', 'httpd', '-f', '-p', '80', '-h', www];
  children.push(spawn('nsenter', args, { stdio: 'ignore' }));
}

function fetchOnce(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/index.html', timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The body from 127.0.0.1:port, retried while httpd starts (at most 50 tries in 10 s). */
async function fetchWhenServing(port: number): Promise<string> {
  let last: unknown;
  const deadline = Date.now() + 10_000;
  for (let attempt = 0; attempt < 50 && Date.now() < deadline; attempt++) {
    try {
      return await fetchOnce(port);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`no answer on 127.0.0.1:${port}: ${String(last)}`);
}

/** Fields 4 (ppid) and 6 (session id) of /proc/PID/stat. */
function parentAndSession(pid: number): { ppid: number; sid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), sid: Number(fields[3]) };
}

/**
 * Runs startNetwork({ detached }) in a separate node process, as `tsbox run -d`
 * would, and returns the info it printed once that process has exited by itself.
 */
async function startInChild(options: object): Promise<NetworkInfo> {
  const script =
    `import { startNetwork } from ${JSON.stringify(new URL('../../core/network/index.js', import.meta.url).href)};\n` +
    `const net = await startNetwork(${JSON.stringify(options)});\n` +
    `console.log(JSON.stringify(net.info));\n`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // no process.exit() in the script: it must end because nothing holds its event loop
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
    15_000,
    'the node process that started the network to exit',
  );
  assert.is(code, 0, `the starting process failed: ${stderr}`);
  const info = JSON.parse(stdout) as NetworkInfo;
  backends.push(info);
  return info;
}

async function freeHostPort(): Promise<number> {
  const [m] = await assignHostPorts(parsePublish('127.0.0.1::80'));
  return m!.hostPort;
}

/** A pid that no process has now: one that just exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true', [], { stdio: 'ignore' });
  await withTimeout(new Promise((r) => child.once('exit', r)), 5000, 'true to exit');
  return child.pid!;
}

test.after(async () => {
  for (const info of backends) await stopNetworkProcess(info, { graceMs: 500 });
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

for (const backend of ['slirp4netns', 'pasta'] as const) {
  const reason = whyNot(backend);

  testIf(reason, `${backend}: detached, it outlives the process that started it and stopNetworkProcess ends it`, async () => {
    const pid = await startContainerStandIn();
    const hostPort = await freeHostPort();
    const logFile = join(work, `${backend}-network.log`);
    const info = await startInChild({ pid, backend, ports: parsePublish(`127.0.0.1:${hostPort}:80`), detached: { logFile } });

    assert.is(info.backend, backend);
    assert.ok(info.start > 0, 'the start time is reported');
    assert.is(processStartTime(info.pid), info.start, `${backend} is still running after its starter exited`);
    const { ppid, sid } = parentAndSession(info.pid);
    assert.is(sid, info.pid, 'it leads its own session');
    assert.is.not(ppid, process.pid);
    assert.ok(existsSync(logFile), 'the log file is created');
    assert.equal(info.ports, [{ hostIp: '127.0.0.1', hostPort, containerPort: 80, range: 1, protocol: 'tcp' }]);
    if (backend === 'pasta') assert.ok(info.pidFile && existsSync(info.pidFile), 'the pid file is in info');
    else assert.ok(info.apiSocket && existsSync(info.apiSocket), 'the API socket is in info');

    serveInNetns(pid);
    assert.is(await fetchWhenServing(hostPort), 'hello from the detached network\n');

    // the same pid with another start time is a reused pid: not ours, not signalled
    assert.is(await stopNetworkProcess({ pid: info.pid, start: info.start + 1 }), false);
    assert.is(processStartTime(info.pid), info.start, 'a start-time mismatch does not signal');
    assert.is(await fetchWhenServing(hostPort), 'hello from the detached network\n');

    assert.is(await withTimeout(stopNetworkProcess(info), 10_000, 'stopNetworkProcess'), true);
    assert.is(processStartTime(info.pid), undefined, `${backend} is gone`);
    if (info.pidFile) assert.not.ok(existsSync(info.pidFile), 'the pid file is removed');
    if (info.apiSocket) assert.not.ok(existsSync(info.apiSocket), 'the API socket is removed');
    const closed = await fetchOnce(hostPort).then(
      () => false,
      () => true,
    );
    assert.ok(closed, 'the published port is closed');
    assert.is(await stopNetworkProcess(info), false, 'a second stop finds nothing to end');
  });

  testIf(reason, `${backend}: detached, a failure to start quotes the backend's log`, async () => {
    const logFile = join(work, `${backend}-failed.log`);
    const pid = await deadPid();
    try {
      await withTimeout(startNetwork({ pid, backend, detached: { logFile } }), 15_000, 'startNetwork');
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.instance(err, TsboxError);
      const message = (err as TsboxError).userMessage();
      assert.not.match(message, /\n/);
      // slirp4netns: "userns path doesn't exist: /proc/N/ns/user"; pasta: "Couldn't open user namespace /proc/N/ns/user: ..."
      assert.match(message, new RegExp(`^${backend} failed to set up the network: .*/proc/${pid}/ns/(net|user)`));
    }
    assert.match(readFileSync(logFile, 'utf8'), `/proc/${pid}/ns/`);
  });
}

test('stopNetworkProcess leaves a process whose start time does not match alone', async () => {
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(sleeper);
  const start = await waitFor(() => processStartTime(sleeper.pid!), 5000, 'sleep to start');
  const pidFile = join(work, 'stale.pid');
  writeFileSync(pidFile, `${sleeper.pid}\n`);
  assert.is(await stopNetworkProcess({ pid: sleeper.pid!, start: start - 1, pidFile }, { graceMs: 100 }), false);
  await new Promise((r) => setTimeout(r, 200));
  assert.is(sleeper.exitCode, null);
  assert.is(sleeper.signalCode, null, 'sleep was not signalled');
  assert.not.ok(existsSync(pidFile), "a gone backend's stale pid file is still removed");

  // the matching start time ends it
  assert.is(await stopNetworkProcess({ pid: sleeper.pid!, start }, { graceMs: 100 }), true);
  await withTimeout(new Promise((r) => (sleeper.exitCode !== null || sleeper.signalCode !== null ? r(0) : sleeper.once('exit', r))), 5000, 'sleep to exit');
  assert.is(sleeper.signalCode, 'SIGTERM');
});

test('stopNetworkProcess escalates to SIGKILL after the grace period', async () => {
  const stubborn = spawn('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(stubborn);
  await withTimeout(new Promise((r) => stubborn.stdout!.once('data', r)), 5000, 'the shell to trap TERM');
  const start = processStartTime(stubborn.pid!)!;
  const began = Date.now();
  assert.is(await withTimeout(stopNetworkProcess({ pid: stubborn.pid!, start }, { graceMs: 300 }), 5000, 'stopNetworkProcess'), true);
  assert.ok(Date.now() - began >= 300, 'it waited the grace period first');
  await withTimeout(new Promise((r) => (stubborn.signalCode !== null ? r(0) : stubborn.once('exit', r))), 5000, 'sh to exit');
  assert.is(stubborn.signalCode, 'SIGKILL');
});

test.run();
