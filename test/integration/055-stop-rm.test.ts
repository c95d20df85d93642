// Ending detached containers as the unprivileged user, with real processes:
// stop (stop signal, then SIGKILL with podman's warning), kill, wait, rm (-f,
// -v), restart, pause's honest refusal, and 20 containers started and stopped
// at once without a lost or duplicated state.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { pushBusybox } from '../lib/fixtures.js';
import { runTsbox, type RunResult } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { waitFor } from '../lib/timeout.js';

interface Context {
  registry: TestRegistry;
  store: TestStore;
}

interface StateFile {
  Status: string;
  Pid: number;
  MonitorPid: number;
  ExitCode: number;
  StopRequested: boolean;
  Network?: { pid: number };
}

const test = suite<Context>('stop-rm');

/** A trap that turns SIGTERM into exit 3: a pid 1 with a handler, so the stop signal reaches it. */
const TRAP_TERM = 'trap "exit 3" TERM; while :; do sleep 0.1; done';

test.before(async (context) => {
  context.registry = await startRegistry();
  await pushBusybox(context.registry);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host);
  const pulled = await tsbox(context, ['pull', `${context.registry.host}/library/busybox:latest`]);
  assert.is(pulled.code, 0, pulled.stderr);
});

test.after(async (context) => {
  if (context.store) {
    // whatever a failed test left running
    await tsbox(context, ['rm', '-af', '-t', '0']).catch(() => undefined);
    for (const id of containerIds(context)) {
      const state = readStateFile(context, id);
      for (const pid of [state?.Pid, state?.MonitorPid, state?.Network?.pid]) {
        if (pid) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    }
    await context.store.cleanup();
  }
  await context.registry?.stop();
});

function tsbox(context: Context, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return runTsbox(args, { env: context.store.env, timeoutMs });
}

function image(context: Context): string {
  return `${context.registry.host}/library/busybox:latest`;
}

/** `tsbox run -d --network none --name NAME busybox ARGS`: resolves to the container's id. */
async function runDetached(context: Context, name: string, args: string[], options: string[] = ['--network', 'none']): Promise<string> {
  const r = await tsbox(context, ['run', '-d', ...options, '--name', name, image(context), ...args]);
  assert.is(r.code, 0, `run -d ${name}: ${r.stderr}`);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/, `run -d printed ${JSON.stringify(r.stdout)}`);
  return id;
}

function containerIds(context: Context): string[] {
  const dir = join(context.store.store, 'containers');
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
}

function names(context: Context): string[] {
  const dir = join(context.store.store, 'containers', 'names');
  return existsSync(dir) ? readdirSync(dir) : [];
}

function readStateFile(context: Context, id: string): StateFile | undefined {
  try {
    return JSON.parse(readFileSync(join(context.store.store, 'containers', id, 'state.json'), 'utf8')) as StateFile;
  } catch {
    return undefined;
  }
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    // a zombie is not a live process
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The running container's pid 1, once it has exec'd the command (its /proc/PID/exe is no longer the helper). */
async function runningPid(context: Context, id: string): Promise<number> {
  return waitFor(
    () => {
      const state = readStateFile(context, id);
      return state?.Status === 'running' && alive(state.Pid) ? state.Pid : undefined;
    },
    10_000,
    `container ${id.slice(0, 12)} running`,
  );
}

test('stop: a sleep ignores SIGTERM as pid 1, so stop warns and resorts to SIGKILL (137); wait prints it', async (context) => {
  const id = await runDetached(context, 'sleeper', ['sleep', '600']);
  const pid = await runningPid(context, id);
  const started = Date.now();
  const r = await tsbox(context, ['stop', '-t', '1', 'sleeper']);
  const took = Date.now() - started;
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'sleeper\n');
  assert.match(r.stderr, /StopSignal SIGTERM failed to stop container sleeper in 1 seconds, resorting to SIGKILL/);
  assert.ok(took >= 1000 && took < 10_000, `stop took ${took} ms`);
  assert.not.ok(alive(pid), 'the container process is gone');
  const state = readStateFile(context, id)!;
  assert.is(state.Status, 'exited');
  assert.is(state.ExitCode, 137);
  assert.is(state.StopRequested, true);
  assert.not.ok(alive(state.MonitorPid), 'the monitor is gone');
  const waited = await tsbox(context, ['wait', 'sleeper']);
  assert.is(waited.stdout, '137\n', waited.stderr);
  // stop is idempotent: a stopped container is printed again, exit 0, no warning
  const again = await tsbox(context, ['stop', 'sleeper']);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout, 'sleeper\n');
  assert.is(again.stderr, '');
});

test('stop: a trap on TERM exits with its code within the timeout, without SIGKILL; -t 0 kills at once', async (context) => {
  const id = await runDetached(context, 'trapper', ['sh', '-c', TRAP_TERM]);
  await runningPid(context, id);
  const started = Date.now();
  const r = await tsbox(context, ['stop', id.slice(0, 12)]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `${id.slice(0, 12)}\n`, 'printed as given');
  assert.is(r.stderr, '');
  assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
  assert.is(readStateFile(context, id)!.ExitCode, 3);
  assert.is((await tsbox(context, ['wait', 'trapper'])).stdout, '3\n');

  const quick = await runDetached(context, 'trapper0', ['sh', '-c', TRAP_TERM]);
  await runningPid(context, quick);
  const t0 = Date.now();
  const killed = await tsbox(context, ['stop', '-t', '0', 'trapper0']);
  assert.is(killed.code, 0, killed.stderr);
  assert.is(killed.stderr, '', '-t 0 is SIGKILL at once, no warning');
  assert.ok(Date.now() - t0 < 5000, `stop -t 0 took ${Date.now() - t0} ms`);
  assert.is(readStateFile(context, quick)!.ExitCode, 137);
  await tsbox(context, ['rm', 'trapper', 'trapper0']);
});

test('stop: a missing container is exit 1 (podman\'s message), ignored with -i', async (context) => {
  const r = await tsbox(context, ['stop', 'nosuchcontainer']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /^Error: no container with name or ID "nosuchcontainer" found: no such container/);
  const ignored = await tsbox(context, ['stop', '-i', 'nosuchcontainer']);
  assert.is(ignored.code, 0, ignored.stderr);
  assert.is(ignored.stdout, '');
});

test('kill -s USR1 reaches a trap; kill of an exited container is refused in podman\'s words', async (context) => {
  const id = await runDetached(context, 'usr1', ['sh', '-c', 'trap "exit 7" USR1; while :; do sleep 0.1; done']);
  await runningPid(context, id);
  const r = await tsbox(context, ['kill', '-s', 'USR1', 'usr1']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'usr1\n');
  const waited = await tsbox(context, ['wait', 'usr1'], 15_000);
  assert.is(waited.stdout, '7\n', waited.stderr);
  // USR1 is no request to end it: the restart policy would still apply
  assert.is(readStateFile(context, id)!.StopRequested, false);
  const refused = await tsbox(context, ['kill', 'usr1']);
  assert.is(refused.code, 125);
  assert.is(refused.stderr, `Error: can only kill running containers. ${id} is in state exited: container state improper\n`);
  const bad = await tsbox(context, ['kill', '-s', 'NOPE', 'usr1']);
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /invalid signal: NOPE/);
  await tsbox(context, ['rm', 'usr1']);
});

test('wait: prints each exit code in the order given, blocking until they exit', async (context) => {
  await runDetached(context, 'w42', ['sh', '-c', 'sleep 1; exit 42']);
  await runDetached(context, 'w0', ['true']);
  const started = Date.now();
  const r = await tsbox(context, ['wait', 'w42', 'w0'], 20_000);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '42\n0\n');
  assert.ok(Date.now() - started >= 500, 'waited for the sleep');
  const running = await runDetached(context, 'wrun', ['sleep', '600']);
  await runningPid(context, running);
  const cond = await tsbox(context, ['wait', '--condition', 'running', 'wrun']);
  assert.is(cond.stdout, '-1\n', cond.stderr);
  await tsbox(context, ['rm', '-f', 'w42', 'w0', 'wrun']);
});

test('rm: a running container is refused without -f (exit 2); -f kills it and leaves nothing', async (context) => {
  // the default network, when a backend is installed: its process must go too
  const id = await runDetached(context, 'victim', ['sleep', '600'], []);
  const pid = await runningPid(context, id);
  const state = readStateFile(context, id)!;
  const refused = await tsbox(context, ['rm', 'victim']);
  assert.is(refused.code, 2);
  assert.is(
    refused.stderr,
    `Error: cannot remove container ${id} as it is running - running or paused containers cannot be removed without force: container state improper\n`,
  );
  assert.ok(alive(pid), 'still running after the refusal');
  const started = Date.now();
  const r = await tsbox(context, ['rm', '-f', 'victim']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'victim\n');
  assert.ok(Date.now() - started < 8000, `rm -f took ${Date.now() - started} ms (SIGKILL, no stop timeout)`);
  assert.not.ok(alive(pid), 'container process gone');
  assert.not.ok(alive(state.MonitorPid), 'monitor gone');
  if (state.Network) assert.not.ok(alive(state.Network.pid), 'network backend gone');
  assert.not.ok(containerIds(context).includes(id), 'container dir gone');
  assert.not.ok(names(context).includes('victim'), 'name released');
  assert.not.ok(existsSync(join(context.store.env.XDG_RUNTIME_DIR!, 'tsbox', 'containers', id)), 'runtime dir gone');
  const missing = await tsbox(context, ['rm', 'victim']);
  assert.is(missing.code, 1);
  assert.is((await tsbox(context, ['rm', '-i', 'victim'])).code, 0);
  // the name can be used again
  const reused = await runDetached(context, 'victim', ['true']);
  assert.is((await tsbox(context, ['wait', 'victim'])).stdout, '0\n');
  assert.is((await tsbox(context, ['rm', reused])).stdout, `${reused}\n`);
});

test('rm -a and container prune also remove what a killed run left: a directory without config.json, its name claim', async (context) => {
  // a store where no container was ever made: nothing to do, and no error
  const fresh = { ...context.store.env, TSBOX_ROOT: join(context.store.store, 'never-used') };
  for (const args of [['rm', '-af'], ['container', 'prune', '-f'], ['system', 'prune', '-f']]) {
    const r = await runTsbox(args, { env: fresh, timeoutMs: 60_000 });
    assert.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const kept = await tsbox(context, ['create', '--name', 'kept', `${context.registry.host}/library/busybox:latest`, 'true']);
  assert.is(kept.code, 0, kept.stderr);
  // as a run killed between its first directory and its config.json leaves it (ContainerStore.create),
  // and a removal killed after deleting config.json
  const leftover = (n: number) => {
    const id = String(n).repeat(64);
    for (const sub of ['userdata', 'upper', 'work', 'merged']) mkdirSync(join(context.store.store, 'containers', id, sub), { recursive: true });
    writeFileSync(join(context.store.store, 'containers', 'names', `half_made_${n}`), `${id}\n`);
    return id;
  };
  const first = leftover(1);
  const ps = await tsbox(context, ['ps', '-a', '--format', '{{.Names}}']);
  assert.is(ps.code, 0, ps.stderr);
  assert.not.ok(ps.stdout.includes('half_made'), 'not a container to ps');
  // container prune removes containers without a process (kept, created and never started, too) and the leftover
  const pruned = await tsbox(context, ['container', 'prune', '-f']);
  assert.is(pruned.code, 0, pruned.stderr);
  assert.not.ok(containerIds(context).includes(first), 'prune removed the leftover');
  assert.not.ok(names(context).includes('half_made_1'));
  const second = leftover(2);
  const again = await tsbox(context, ['create', '--name', 'kept2', `${context.registry.host}/library/busybox:latest`, 'true']);
  assert.is(again.code, 0, again.stderr);
  const rm = await tsbox(context, ['rm', '-af', '-t', '0']);
  assert.is(rm.code, 0, rm.stderr);
  assert.equal(containerIds(context), [], `rm -a left ${containerIds(context).join(' ')} (${second})`);
  assert.equal(names(context), []);
});

test('rm -v removes the container\'s anonymous volumes; rm without -v keeps them', async (context) => {
  const volumesDir = join(context.store.store, 'volumes');
  const volumes = () => (existsSync(volumesDir) ? readdirSync(volumesDir).filter((n) => !n.startsWith('.')) : []);
  const before = volumes();
  await runDetached(context, 'anon-v', ['sh', '-c', 'echo x >/data/f; sleep 600'], ['--network', 'none', '-v', '/data']);
  const made = volumes().filter((v) => !before.includes(v));
  assert.is(made.length, 1, `volumes: ${volumes().join(' ')}`);
  const r = await tsbox(context, ['rm', '-fv', 'anon-v']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(volumes(), before, 'the anonymous volume went with -v');

  await runDetached(context, 'anon-keep', ['true'], ['--network', 'none', '-v', '/data']);
  await tsbox(context, ['wait', 'anon-keep']);
  const kept = volumes().filter((v) => !before.includes(v));
  assert.is(kept.length, 1);
  assert.is((await tsbox(context, ['rm', 'anon-keep'])).code, 0);
  assert.equal(volumes().filter((v) => !before.includes(v)), kept, 'without -v it stays');
  await tsbox(context, ['volume', 'rm', ...kept]);
});

test('restart: a running container comes back with a new process; a stopped one is started', async (context) => {
  const id = await runDetached(context, 'again', ['sh', '-c', TRAP_TERM]);
  const first = await runningPid(context, id);
  const r = await tsbox(context, ['restart', 'again']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'again\n');
  const second = await runningPid(context, id);
  assert.is.not(second, first);
  assert.not.ok(alive(first), 'the first process is gone');
  assert.is(readStateFile(context, id)!.StopRequested, false, 'a restart is running again, not a stop');
  await tsbox(context, ['stop', 'again']);
  assert.is(readStateFile(context, id)!.Status, 'exited');
  const started = await tsbox(context, ['restart', 'again']);
  assert.is(started.code, 0, started.stderr);
  const third = await runningPid(context, id);
  assert.is.not(third, second);
  await tsbox(context, ['rm', '-f', 'again']);
});

test('pause and unpause say in one line what is missing (no per-container cgroup), exit 125', async (context) => {
  const id = await runDetached(context, 'pausable', ['sleep', '600']);
  const pid = await runningPid(context, id);
  const r = await tsbox(context, ['pause', 'pausable']);
  assert.is(r.code, 125);
  assert.is(r.stdout, '');
  assert.is(r.stderr.split('\n').length, 2, r.stderr);
  assert.match(r.stderr, /^Error: pause is not supported/);
  assert.match(r.stderr, /cgroup/);
  // not faked with SIGSTOP: the process still runs
  assert.not.match(readFileSync(`/proc/${pid}/stat`, 'utf8'), /^\d+ \(.*\) T /);
  const un = await tsbox(context, ['unpause', 'pausable']);
  assert.is(un.code, 125);
  assert.match(un.stderr, /is not paused, can't unpause: container state improper/);
  await tsbox(context, ['rm', '-f', 'pausable']);
});

test('20 containers run -d at once, 20 running, stopped in parallel: 20 exited with the right codes, no state lost', async (context) => {
  const count = 20;
  const before = new Set(containerIds(context));
  // all settled before any assertion, so that a failure leaves no run in flight behind the clean-up
  const runs = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      // even ones trap TERM (exit 3), odd ones ignore it and need SIGKILL (137)
      const args = i % 2 === 0 ? ['sh', '-c', TRAP_TERM] : ['sleep', '600'];
      return tsbox(context, ['run', '-d', '--network', 'none', '--name', `par${i}`, image(context), ...args], 180_000);
    }),
  );
  for (const [i, r] of runs.entries()) assert.is(r.code, 0, `par${i}: ${r.stderr}`);
  const started = runs.map((r) => r.stdout.trim());
  assert.is(new Set(started).size, count, 'twenty distinct ids');
  const ids = containerIds(context).filter((id) => !before.has(id));
  assert.equal(ids.sort(), [...started].sort());
  const pids = await Promise.all(started.map((id) => runningPid(context, id)));
  assert.is(new Set(pids).size, count, 'twenty distinct processes');
  const running = started.filter((id) => readStateFile(context, id)?.Status === 'running' && alive(readStateFile(context, id)!.Pid));
  assert.is(running.length, count, 'exactly 20 running');

  const parNames = started.map((_, i) => `par${i}`);
  const t0 = Date.now();
  const r = await tsbox(context, ['stop', '-t', '2', ...parNames], 120_000);
  const took = Date.now() - t0;
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, parNames.map((n) => `${n}\n`).join(''), 'each printed once, in the order given');
  assert.is((r.stderr.match(/resorting to SIGKILL/g) ?? []).length, count / 2, r.stderr);
  // in parallel: one 2 s timeout, not ten one after the other (20 s)
  assert.ok(took < 19_000, `stopping 20 took ${took} ms`);
  for (const [i, id] of started.entries()) {
    const state = readStateFile(context, id)!;
    assert.is(state.Status, 'exited', `par${i}`);
    assert.is(state.ExitCode, i % 2 === 0 ? 3 : 137, `par${i}`);
    assert.not.ok(alive(pids[i]), `par${i} process gone`);
    assert.not.ok(alive(state.MonitorPid), `par${i} monitor gone`);
  }
  const waited = await tsbox(context, ['wait', ...parNames]);
  assert.is(waited.stdout, parNames.map((_, i) => `${i % 2 === 0 ? 3 : 137}\n`).join(''));
  const removed = await tsbox(context, ['rm', ...parNames], 120_000);
  assert.is(removed.code, 0, removed.stderr);
  assert.equal(containerIds(context).filter((id) => !before.has(id)), []);
  assert.equal(parNames.filter((n) => existsSync(join(context.store.store, 'containers', 'names', n))), []);
});

test.run();
