// The pieces of stop/kill/wait/pause that need no container: signal names,
// the pid-ownership check, waiting on state.json + the monitor's exit file,
// and what pause says about a host's cgroups.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSignal } from '../../core/container/signals.js';
import { cgroupHost, pauseUnsupported } from '../../core/container/pause.js';
import { initialState, processStartTime, runtimePaths, writeState, type ContainerState } from '../../core/container/state.js';
import { ownsPid, waitForExit, waitUntil } from '../../core/container/stop.js';
import { ContainerStore } from '../../core/runtime/containers.js';
import { withTimeout } from '../lib/timeout.js';

test('signals by name, short name, any case and number; invalid ones refused', () => {
  assert.equal(parseSignal('SIGTERM'), { number: 15, name: 'SIGTERM' });
  assert.equal(parseSignal('TERM'), { number: 15, name: 'SIGTERM' });
  assert.equal(parseSignal('usr1'), { number: 10, name: 'SIGUSR1' });
  assert.equal(parseSignal('9'), { number: 9, name: 'SIGKILL' });
  assert.equal(parseSignal('RTMIN+3'), { number: 37, name: 'SIGRTMIN+3' });
  for (const bad of ['', 'SIGFOO', '0', '65', '-1', 'TERM9']) {
    assert.throws(() => parseSignal(bad), /invalid signal/, bad);
  }
});

test('ownsPid: no pid, a dead monitor, or a process in our own pid namespace is not a container', () => {
  const base: ContainerState = { ...initialState(), Status: 'running' };
  assert.not.ok(ownsPid({ ...base, Pid: 0 }));
  // our own child: descends from us, but shares our pid namespace
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const start = processStartTime(process.pid)!;
    assert.ok(start);
    assert.not.ok(ownsPid({ ...base, Pid: child.pid!, MonitorPid: process.pid, MonitorStart: start }));
    // a monitor recorded with another start time is a reused pid
    assert.not.ok(ownsPid({ ...base, Pid: child.pid!, MonitorPid: process.pid, MonitorStart: `${start}1` }));
  } finally {
    child.kill('SIGKILL');
  }
});

function fakeContainer(root: string): { store: ContainerStore; id: string } {
  const store = new ContainerStore(join(root, 'store'));
  const id = 'a'.repeat(64);
  mkdirSync(store.paths(id).dir, { recursive: true });
  writeFileSync(store.paths(id).config, JSON.stringify({ Id: id, Name: 'x' }));
  return { store, id };
}

test('waitForExit: a running container is seen exited once its monitor writes the exit file, promptly', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsbox-stop-unit-'));
  const savedRuntime = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = join(root, 'run');
  mkdirSync(process.env.XDG_RUNTIME_DIR, { mode: 0o700 });
  let monitor: ChildProcess | undefined;
  try {
    const { store, id } = fakeContainer(root);
    monitor = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 20));
    await writeState(store, id, {
      ...initialState(),
      Status: 'running',
      Pid: monitor.pid!,
      MonitorPid: monitor.pid!,
      MonitorStart: processStartTime(monitor.pid!)!,
    });
    const paths = runtimePaths(id);
    mkdirSync(paths.dir, { recursive: true });
    assert.is(await waitForExit(store, id, { timeoutMs: 100 }), undefined, 'still running: times out');
    const started = Date.now();
    // a long poll interval: only the watch on the runtime dir can make this quick
    const waiting = waitForExit(store, id, { timeoutMs: 5000, intervalMs: 2000 });
    setTimeout(() => writeFileSync(paths.exit, JSON.stringify({ exitCode: 137, finishedAt: '2024-01-01T00:00:00Z' })), 50);
    const state = await withTimeout(waiting, 5000, 'waitForExit');
    assert.is(state?.Status, 'exited');
    assert.is(state?.ExitCode, 137);
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    // and a removed container is an error, not a container that never ran
    rmSync(store.paths(id).config);
    await waitUntil(store, id, () => true).then(
      () => assert.unreachable('removed container'),
      (err: Error) => assert.match(err.message, /no such container/),
    );
  } finally {
    monitor?.kill('SIGKILL');
    if (savedRuntime === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = savedRuntime;
    rmSync(root, { recursive: true, force: true });
  }
});

test('cgroupHost: v2, v1 and hybrid layouts from /proc/self/cgroup; delegation from the cgroup dir', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsbox-cgroup-unit-'));
  try {
    const fsRoot = join(root, 'sys');
    mkdirSync(join(fsRoot, 'user.slice', 'me'), { recursive: true });
    writeFileSync(join(fsRoot, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    const v2 = join(root, 'v2');
    writeFileSync(v2, '0::/user.slice/me\n');
    const v1 = join(root, 'v1');
    writeFileSync(v1, '12:freezer:/\n11:memory:/user.slice\n1:name=systemd:/user.slice\n');
    const hybrid = join(root, 'hybrid');
    writeFileSync(hybrid, '12:freezer:/\n1:name=systemd:/user.slice\n0::/user.slice\n');
    const host = cgroupHost(v2, fsRoot);
    assert.equal(host, { layout: 'v2', ownCgroup: '/user.slice/me', delegated: true, controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] });
    assert.is(cgroupHost(v1, fsRoot).layout, 'v1');
    assert.is(cgroupHost(hybrid, fsRoot).layout, 'hybrid');
    assert.is(cgroupHost(join(root, 'v2'), join(root, 'elsewhere')).delegated, false);

    const rootless = (process.getuid?.() ?? 0) !== 0;
    const onV1 = pauseUnsupported('pause', cgroupHost(v1, fsRoot)).message;
    if (rootless) assert.is(onV1, 'pause is not supported for rootless containers on cgroup v1');
    const delegated = pauseUnsupported('pause', host);
    assert.match(delegated.message, /own cgroup v2 with the freezer/);
    assert.match(delegated.hint ?? '', /does not put containers in cgroups of their own/);
    const undelegated = pauseUnsupported('unpause', { layout: 'v2', ownCgroup: '/system.slice/x', delegated: false, controllers: [] });
    assert.match(undelegated.hint ?? '', /\/system\.slice\/x is not delegated/);
    assert.not.match(undelegated.userMessage(), /\n/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
