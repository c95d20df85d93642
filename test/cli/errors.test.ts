// The error catalogue (docs/errors.md), the part that needs no registry and
// no container process: each failure a user meets, its exact one-line
// message saying what to do, and exit code 125. Host problems that cannot be
// caused here (no user namespaces, no subordinate ids, no newuidmap) are
// checked through the functions that word them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerStore, newContainerId } from '../../core/runtime/containers.js';
import { buildSpec, type ContainerRecord } from '../../core/runtime/spec.js';
import { initialState, processStartTime, writeState, type ContainerState } from '../../core/container/state.js';
import { buildMapping } from '../../core/userns/mapping.js';
import { usernsSwitches } from '../../core/host/info.js';
import { detachedRuntimeWarning } from '../../core/host/linger.js';
import { TSBOX_BIN, runProgram, runTsbox, tempStore } from '../lib/tsbox.js';

let temp: ReturnType<typeof tempStore>;
let containers: ContainerStore;
let sleeper: ChildProcess | undefined;

test.before.each(() => {
  temp = tempStore();
  mkdirSync(temp.env.XDG_RUNTIME_DIR!, { mode: 0o700 });
  containers = new ContainerStore(temp.env.TSBOX_ROOT!);
});
test.after.each(() => {
  sleeper?.kill('SIGKILL');
  sleeper = undefined;
  temp.cleanup();
});

const tsbox = (args: string[], env: NodeJS.ProcessEnv = {}) => runTsbox(args, { env: { ...temp.env, ...env }, timeoutMs: 30_000 });

/** One `Error:` line, exactly `line`, and exit code 125. */
function assertError(result: { code: number | null; stdout: string; stderr: string }, line: string): void {
  assert.is(result.code, 125, result.stderr);
  assert.is(result.stderr, `Error: ${line}\n`);
}

async function makeContainer(name: string, state: Partial<ContainerState> = {}): Promise<string> {
  const id = newContainerId();
  const spec = buildSpec(
    { config: { Cmd: ['sleep', '1000'] }, rootfs: { type: 'layers', diff_ids: [] } },
    { id, command: [], layers: ['l'.repeat(64)], network: { mode: 'none', ports: [] } },
  );
  const record: ContainerRecord = {
    Id: id,
    Name: name,
    Image: 'ab'.repeat(32),
    ImageName: 'docker.io/library/busybox:latest',
    Created: new Date().toISOString(),
    State: 'created',
    Spec: spec,
  };
  await containers.create(record);
  await writeState(containers, id, { ...initialState(), ...state });
  return id;
}

test('no such container: every command names it and says where to look; rm and stop exit 1 as podman\'s', async () => {
  const line = 'Error: no container with name or ID "nosuch" found: no such container (see `tsbox ps -a` for the containers there are)\n';
  const cases: Array<[string[], number]> = [
    [['exec', 'nosuch', 'true'], 125],
    [['attach', 'nosuch'], 125],
    [['kill', 'nosuch'], 125],
    [['logs', 'nosuch'], 125],
    [['stop', 'nosuch'], 1],
    [['rm', 'nosuch'], 1],
  ];
  for (const [args, code] of cases) {
    const r = await tsbox(args);
    assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr, line, args.join(' '));
  }
});

test('a container that is not running: exec, attach and kill refuse with podman\'s words and the fix', async () => {
  const id = await makeContainer('idle');
  assertError(await tsbox(['exec', 'idle', 'true']), 'can only create exec sessions on running containers: container state improper (start it first with `tsbox start`)');
  assertError(await tsbox(['attach', 'idle']), 'you can only attach to running containers: container state improper (start it and attach with `tsbox start -a`)');
  assertError(await tsbox(['kill', 'idle']), `can only kill running containers. ${id} is in state created: container state improper`);
});

test('a container name in use: run and create refuse it and say how to reuse it', async () => {
  const id = await makeContainer('web');
  const r = await tsbox(['rename', (await makeContainer('other')).slice(0, 12), 'web']);
  assertError(r, `the container name "web" is already in use by ${id}. You have to remove that container to be able to reuse that name: that name is already in use`);
});

test('the store locked by another process for too long: the holder, the wait and TSBOX_LOCK_TIMEOUT', async () => {
  await makeContainer('a');
  // a live holder: a process of this test, named by pid and start time as tsbox names itself
  sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  const lock = join(temp.env.TSBOX_ROOT!, 'containers', 'containers.lock');
  writeFileSync(lock, `${sleeper.pid} ${processStartTime(sleeper.pid!)} 0123456789abcdef\n`);
  const started = Date.now();
  const r = await tsbox(['rename', 'a', 'b'], { TSBOX_LOCK_TIMEOUT: '1' });
  assert.ok(Date.now() - started < 20_000, 'gave up after about a second');
  assertError(
    r,
    `store locked by another tsbox process (pid ${sleeper.pid}) for more than 1s: ${lock} (wait for it to finish or stop it, or set TSBOX_LOCK_TIMEOUT=SECONDS to wait longer)`,
  );
});

test('an image that is not in the store, with --pull never', async () => {
  const r = await tsbox(['run', '--pull', 'never', 'localhost/nosuch:1', 'true']);
  assertError(r, 'localhost/nosuch:1: image not known');
});

test('user namespaces refused by the kernel: the switch that refuses them and the sysctl that allows them', () => {
  assert.is(
    usernsSwitches({ unprivilegedClone: '0\n' }),
    'kernel.unprivileged_userns_clone is 0: run sysctl -w kernel.unprivileged_userns_clone=1, and set it in /etc/sysctl.d/',
  );
  assert.is(usernsSwitches({ maxUserNamespaces: '0\n' }), 'user.max_user_namespaces is 0: run sysctl -w user.max_user_namespaces=15000, and set it in /etc/sysctl.d/');
  assert.match(usernsSwitches({ apparmorRestrict: '1\n' })!, /^AppArmor restricts unprivileged user namespaces .*sysctl -w kernel.apparmor_restrict_unprivileged_userns=0$/);
  assert.is(usernsSwitches({ unprivilegedClone: '1', maxUserNamespaces: '15000', apparmorRestrict: '0' }), undefined);
});

test('user namespaces used up at run time: the helper\'s errno and the sysctl that allows them', async () => {
  // a user namespace of our own whose limit of nested user namespaces is 0, where tsbox runs
  const root = join(temp.root, 'empty-root');
  mkdirSync(root, { recursive: true });
  const script = `echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -- "$1" run --rm --network none --rootfs "$2" /bin/true`;
  const r = await runProgram('unshare', ['--user', '--map-root-user', 'sh', '-c', script, process.execPath, TSBOX_BIN, root], {
    env: { ...process.env, ...temp.env },
    timeoutMs: 30_000,
  });
  assert.is(r.code, 125, r.stderr);
  assert.match(r.stderr, /\nError: cannot create a user namespace: no space left on device \(user\.max_user_namespaces is 0: run sysctl -w user\.max_user_namespaces=15000, and set it in \/etc\/sysctl\.d\/\)\n$/);
  assert.not.match(r.stderr, /tsbox-helper:/);
});

test('a subordinate range newuidmap refuses: its own words, then the lines to check and the package', async () => {
  const root = join(temp.root, 'empty-root');
  mkdirSync(root, { recursive: true });
  const user = process.env.USER ?? 'tsboxtest';
  // ranges /etc/subuid does not grant us: newuidmap refuses to write them
  const subuid = join(temp.root, 'subuid-not-granted');
  writeFileSync(subuid, `${user}:3000000000:65536\n`);
  const fresh = tempStore();
  try {
    const r = await runTsbox(['run', '--rm', '--network', 'none', '--rootfs', root, '/bin/true'], {
      env: { ...fresh.env, TSBOX_SUBUID_FILE: subuid, TSBOX_SUBGID_FILE: subuid },
      timeoutMs: 30_000,
    });
    assert.is(r.code, 125, r.stderr);
    assert.match(r.stderr, new RegExp(`^Error: \\S*newuidmap failed to write the uid map \\(exit \\d+\\): .+ \\(check the ${user} lines of /etc/subuid and /etc/subgid, and that newuidmap is setuid root: reinstall the uidmap package\\)\\n$`));
  } finally {
    fresh.cleanup();
  }
});

test('a store of another version: what it is and how to start afresh', async () => {
  const other = tempStore();
  try {
    const root = other.env.TSBOX_ROOT!;
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'storage.json'), JSON.stringify({ version: 99, mapping: { uids: [], gids: [] } }));
    assertError(
      await runTsbox(['images'], { env: other.env, timeoutMs: 30_000 }),
      `store ${root} has version 99, this tsbox reads version 1 (use the tsbox that made it, or start afresh: move the store aside, or point TSBOX_ROOT elsewhere, or remove it with tsbox system reset)`,
    );
  } finally {
    other.cleanup();
  }
});

test('no subordinate ids: the warning names the file and the line to add', () => {
  const tools = { newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap' };
  const mapping = buildMapping({ user: { name: 'alice', uid: 1000, gid: 1000 }, subuid: 'bob:100000:65536\n', subgid: 'alice:100000:65536\n', tools });
  assert.is(mapping.full, false);
  assert.is(
    mapping.warning,
    'no subordinate uid range for alice in /etc/subuid: files owned by other users in images will be owned by root (add a range, e.g. alice:100000:65536, with usermod --add-subuids 100000-165535 alice)',
  );
});

test('newuidmap missing: the warning names the package to install', () => {
  const mapping = buildMapping({ user: { name: 'alice', uid: 1000, gid: 1000 }, subuid: 'alice:100000:65536\n', subgid: 'alice:100000:65536\n', tools: { missing: 'newuidmap' } });
  assert.is(mapping.warning, 'newuidmap not found: files owned by other users in images will be owned by root (install the uidmap package)');
});

test('XDG_RUNTIME_DIR unset or not ours: run -d warns about lingering, and only then', () => {
  const base = { runtimeDir: '/tmp/tsbox-run-1000', user: 'alice', lingering: false };
  assert.is(
    detachedRuntimeWarning({ ...base, xdgRuntimeDir: undefined }),
    'XDG_RUNTIME_DIR is not set (as under su or sudo): using /tmp/tsbox-run-1000; the container may be stopped when this session ends: run loginctl enable-linger alice, or log in as alice directly',
  );
  assert.match(detachedRuntimeWarning({ ...base, xdgRuntimeDir: '/run/user/0' })!, /^XDG_RUNTIME_DIR \(\/run\/user\/0\) is not yours \(as under su or sudo\)/);
  assert.is(detachedRuntimeWarning({ ...base, xdgRuntimeDir: undefined, lingering: true }), undefined, 'lingering already');
  assert.is(detachedRuntimeWarning({ ...base, runtimeDir: '/run/user/1000', xdgRuntimeDir: '/run/user/1000' }), undefined, 'a runtime dir of our own');
});

test('the /tmp fallback runtime directory is refused unless it is private: what is wrong and what to do', async () => {
  const uid = process.getuid!();
  const fallback = `/tmp/tsbox-run-${uid}`;
  mkdirSync(fallback, { recursive: true, mode: 0o700 });
  const before = statSync(fallback).mode & 0o7777;
  // logout keeps the auth file in the runtime directory
  const env = { ...temp.env, XDG_RUNTIME_DIR: '', REGISTRY_AUTH_FILE: '' };
  try {
    chmodSync(fallback, 0o755);
    const r = await runTsbox(['logout', '--all'], { env, timeoutMs: 30_000 });
    assertError(r, `the runtime directory ${fallback} is owned by uid ${uid} with mode 0755, not private to uid ${uid} (remove it, or set XDG_RUNTIME_DIR to a directory of yours with mode 0700, such as /run/user/${uid} after loginctl enable-linger)`);
  } finally {
    chmodSync(fallback, before);
  }
  const ok = await runTsbox(['logout', '--all'], { env, timeoutMs: 30_000 });
  assert.is(ok.code, 0, ok.stderr);
});

test('XDG_RUNTIME_DIR unset: foreground commands say nothing about it', async () => {
  const env = { ...temp.env };
  delete env.XDG_RUNTIME_DIR;
  const r = await runTsbox(['ps', '-a'], { env: { ...env, XDG_RUNTIME_DIR: '' }, timeoutMs: 30_000 });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
});

test.run();
