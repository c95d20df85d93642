// startNetwork against the real kernel, as the unprivileged user: a plain
// `unshare --user --map-root-user --net` process stands in for a container;
// inside its netns (nsenter) we look at the interface and serve a file with
// busybox httpd, and fetch it from the host through the published port.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readlinkSync, rmSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor, withTimeout } from '../lib/timeout.js';
import { startNetwork, type RunningNetwork } from '../../core/network/start.js';
import { findProgram, type Backend } from '../../core/network/mode.js';
import { assignHostPorts } from '../../core/network/ports.js';
import { parsePublish } from '../../core/network/publish.js';
import { TsboxError } from '../../core/errors.js';
import { conditionalTest } from '../lib/skip.js';

const run = promisify(execFile);
const children: ChildProcess[] = [];
const www = mkdtempSync(join(tmpdir(), 'tsbox-net-www-'));
writeFileSync(join(www, 'index.html'), 'hello from the container\n');

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

function nsenterArgs(pid: number, command: string[]): string[] {
  return ['--preserve-credentials', '-U', '-n', '-t', String(pid), ...command];
}

async function inNetns(pid: number, command: string[]): Promise<string> {
  const { stdout } = await withTimeout(run('nsenter', nsenterArgs(pid, command)), 10_000, command.join(' '));
  return stdout;
}

function serveInNetns(pid: number): ChildProcess {
  const child = spawn('nsenter', nsenterArgs(pid, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]), { stdio: 'ignore' });
  children.push(child);
  return child;
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function freeHostPort(): Promise<number> {
  const [m] = await assignHostPorts(parsePublish('127.0.0.1::80'));
  return m!.hostPort;
}

test.after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(www, { recursive: true, force: true });
});

for (const backend of ['slirp4netns', 'pasta'] as const) {
  const reason = whyNot(backend);

  testIf(reason, `${backend}: configures the interface, publishes a port, and stop() leaves nothing behind`, async () => {
    const pid = await startContainerStandIn();
    const hostPort = await freeHostPort();
    const net: RunningNetwork = await startNetwork({ pid, backend, ports: parsePublish(`127.0.0.1:${hostPort}:80`) });
    try {
      const addr = await inNetns(pid, ['ip', '-o', '-4', 'addr', 'show']);
      const route = await inNetns(pid, ['ip', 'route', 'show', 'default']);
      if (backend === 'slirp4netns') {
        assert.match(addr, /tap0\s+inet 10\.0\.2\.100\/24/);
        assert.match(route, /default via 10\.0\.2\.2 dev tap0/);
      } else {
        assert.match(addr, new RegExp(`${net.info.interface}\\s+inet ${net.info.containerIp!.replace(/\./g, '\\.')}/`));
        assert.match(route, /^default via /);
      }
      assert.equal(net.info.ports, [{ hostIp: '127.0.0.1', hostPort, containerPort: 80, range: 1, protocol: 'tcp' }]);
      assert.ok(alive(net.info.pid));

      serveInNetns(pid);
      assert.is(await fetchWhenServing(hostPort), 'hello from the container\n');
    } finally {
      await withTimeout(net.stop(), 5000, 'stop()');
    }
    assert.not.ok(alive(net.info.pid), `${backend} is gone after stop()`);
    if (net.info.apiSocket) assert.not.ok(existsSync(net.info.apiSocket), 'the API socket is removed');
    const dir = join(net.info.apiSocket ? join(net.info.apiSocket, '..') : '');
    if (dir) assert.equal(readdirSync(dir).filter((f) => f.includes(`-${pid}-`)), []);
    await withTimeout(net.stop(), 5000, 'a second stop()');
  });

  testIf(reason, `${backend}: two containers at once, each with its own network`, async () => {
    const [a, b] = [await startContainerStandIn(), await startContainerStandIn()];
    const nets = await Promise.all([a, b].map((pid) => startNetwork({ pid, backend, ports: parsePublish('127.0.0.1::80') })));
    try {
      assert.is.not(nets[0]!.info.pid, nets[1]!.info.pid);
      const ports = nets.map((n) => n.info.ports[0]!.hostPort);
      assert.ok(ports[0]! > 0 && ports[1]! > 0 && ports[0] !== ports[1], `random host ports ${ports.join(', ')}`);
      serveInNetns(a);
      assert.is(await fetchWhenServing(ports[0]!), 'hello from the container\n');
    } finally {
      await Promise.all(nets.map((n) => withTimeout(n.stop(), 5000, 'stop()')));
    }
    for (const n of nets) assert.not.ok(alive(n.info.pid));
  });

  testIf(reason, `${backend}: dies with the tsbox process that started it`, async () => {
    const pid = await startContainerStandIn();
    // a separate node process starts the network and is then killed with SIGKILL
    const script =
      `import { startNetwork } from ${JSON.stringify(new URL('../../core/network/start.js', import.meta.url).href)};\n` +
      `const net = await startNetwork({ pid: ${pid}, backend: '${backend}' });\n` +
      `console.log(net.info.pid);\n` +
      `setInterval(() => {}, 1000);\n`;
    const tsbox = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(tsbox);
    const backendPid = await withTimeout(
      new Promise<number>((resolve) => tsbox.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))),
      10_000,
      'the network to start in the child',
    );
    assert.ok(alive(backendPid));
    tsbox.kill('SIGKILL');
    await waitFor(() => (alive(backendPid) ? undefined : true), 5000, `${backend} to exit after tsbox was killed`);
  });

  test(`${backend}: a missing program is a one-line error with the fix`, async () => {
    try {
      await startNetwork({ pid: process.pid, backend, path: '/nonexistent' });
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.instance(err, TsboxError);
      const e = err as TsboxError;
      assert.is(e.exitCode, 125);
      assert.not.match(e.userMessage(), /\n/);
      assert.match(e.userMessage(), new RegExp(`${backend} not found.*install the ${backend === 'pasta' ? 'passt' : 'slirp4netns'} package`));
    }
  });
}

testIf(whyNot('slirp4netns'), 'slirp4netns: a port already taken on the host is refused with the port named', async () => {
  const pid = await startContainerStandIn();
  const first = await startNetwork({ pid, backend: 'slirp4netns', ports: parsePublish('127.0.0.1::80') });
  const taken = first.info.ports[0]!.hostPort;
  const other = await startContainerStandIn();
  try {
    await startNetwork({ pid: other, backend: 'slirp4netns', ports: parsePublish(`127.0.0.1:${taken}:80`) });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, TsboxError);
    assert.match((err as Error).message, new RegExp(`127\\.0\\.0\\.1:${taken}/tcp`));
    assert.is((err as TsboxError).hint, 'is the port already in use? choose another host port with -p');
  } finally {
    await first.stop();
  }
  // the failed start left no slirp4netns behind on the other netns
  const leftovers = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`/proc/${other}/ns/net`);
      } catch {
        return false;
      }
    });
  assert.equal(leftovers, []);
});

testIf(whyNot('pasta'), 'pasta: a port already taken on the host is refused with pasta\'s words and the same hint', async () => {
  const server = createServer();
  await withTimeout(new Promise<void>((r) => server.listen(0, '127.0.0.1', r)), 5000, 'a server to listen');
  const taken = (server.address() as AddressInfo).port;
  const pid = await startContainerStandIn();
  try {
    await startNetwork({ pid, backend: 'pasta', ports: parsePublish(`127.0.0.1:${taken}:80`) });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, TsboxError);
    assert.match((err as Error).message, new RegExp(`${taken}`));
    assert.is((err as TsboxError).hint, 'is the port already in use? choose another host port with -p');
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test.run();
