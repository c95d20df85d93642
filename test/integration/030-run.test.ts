// tsbox run against a real registry, as the unprivileged user, in real
// namespaces: pull on demand, exit statuses, process options, streams,
// --rm clean-up, isolation (network, read-only root, masked paths, ids).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, statSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { busyboxEntries, pushBusybox } from '../lib/fixtures.js';
import { LayoutWriter, pushLayout } from '../lib/oci-layout.js';
import { runProgram, runTsbox, TSBOX_BIN, type RunResult } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { waitFor, withTimeout } from '../lib/timeout.js';
import { connect, createServer, type AddressInfo } from 'node:net';

interface Context {
  registry: TestRegistry;
  store: TestStore;
  /** a host directory the `special` image has a symlink to (tmpesc -> it) */
  hostTarget: string;
  /** a host directory bound into containers */
  hostDir: string;
}

/**
 * busybox with an entrypoint, a command, env and working dir, and symlinks
 * that point out of the root: `escape` -> /, `tmpesc` -> a host directory,
 * `etc/resolv.conf` -> a file in that host directory.
 */
async function pushSpecial(registry: TestRegistry, hostTarget: string): Promise<void> {
  const writer = new LayoutWriter(mkdtempSync(join(tmpdir(), 'tsbox-special-')));
  const layer = await writer.addLayerEntries('gzip', [
    ...busyboxEntries(),
    { type: 'symlink', path: 'escape', target: '/' },
    { type: 'symlink', path: 'tmpesc', target: hostTarget },
    // where tsbox binds its generated file: followed on the host it would land in hostTarget
    { type: 'symlink', path: 'etc/resolv.conf', target: `${hostTarget}/resolv.conf` },
  ]);
  const { manifest } = writer.addImage({
    layers: [layer],
    config: { Entrypoint: ['/bin/echo', 'entry'], Cmd: ['default-cmd'], Env: ['FROM_IMAGE=1', 'PATH=/bin'], WorkingDir: '/home/app' },
  });
  writer.tag('latest', manifest);
  writer.finish();
  await pushLayout(writer.dir, 'latest', registry, 'library/special', 'latest');
  rmSync(writer.dir, { recursive: true, force: true });
}

const test = suite<Context>('run');

test.before(async (context) => {
  context.registry = await startRegistry();
  // what `alpine` and `busybox` resolve to through the docker.io mirror
  context.hostTarget = mkdtempSync(join(tmpdir(), 'tsbox-escape-target-'));
  context.hostDir = mkdtempSync(join(tmpdir(), 'tsbox-bind-'));
  writeFileSync(join(context.hostDir, 'from-host'), 'host content\n');
  chmodSync(context.hostDir, 0o777);
  await Promise.all([
    pushBusybox(context.registry),
    pushBusybox(context.registry, 'library/alpine', 'latest'),
    pushSpecial(context.registry, context.hostTarget),
  ]);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host, { mirrorDockerIo: true });
});

test.after(async (context) => {
  await context.store?.cleanup();
  await context.registry?.stop();
  for (const dir of [context.hostTarget, context.hostDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * `tsbox run ARGS`. Without a --network or -p in ARGS it runs with
 * `--network none`, which saves starting pasta for each of the many tests
 * that need no network; the default network has tests of its own.
 */
function run(context: Context, args: string[], input?: string | Buffer): Promise<RunResult> {
  const wantsNetwork = args.some((a) => a === '--network' || a === '-p' || a === DEFAULT_NETWORK);
  const network = wantsNetwork ? [] : ['--network', 'none'];
  const given = args.filter((a) => a !== DEFAULT_NETWORK);
  return runTsbox(['run', ...network, ...given], { env: context.store.env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
}

/** A marker for run(): keep tsbox's default network (private, pasta or slirp4netns). */
const DEFAULT_NETWORK = '<default network>';

/** Container directories left in the store (ids), and names still claimed. */
function leftContainers(context: Context): { dirs: string[]; names: string[] } {
  const dir = join(context.store.store, 'containers');
  if (!existsSync(dir)) return { dirs: [], names: [] };
  const dirs = readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n));
  const names = existsSync(join(dir, 'names')) ? readdirSync(join(dir, 'names')) : [];
  return { dirs, names };
}

/** Processes of this user whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('pulls a missing image and runs it: prints ok', async (context) => {
  const r = await run(context, [DEFAULT_NETWORK, '--rm', 'alpine', 'sh', '-c', 'echo ok']);
  assert.is(r.stdout, 'ok\n', r.stderr);
  assert.is(r.code, 0);
  assert.is(context.store.images().length, 1);
});

test('exit statuses: the command\'s, 128+N for a signal, 127 not found, 126 not executable', async (context) => {
  const cases: [string[], number][] = [
    [['false'], 1],
    [['sh', '-c', 'exit 3'], 3],
    // sh is not pid 1 under --init, so it can be killed by its own signal
    [['--init', 'sh', '-c', 'kill -9 $$'], 137],
    [['nosuchcommand'], 127],
    [['/etc/passwd'], 126],
  ];
  for (const [args, code] of cases) {
    const options = args[0] === '--init' ? ['--init'] : [];
    const command = args[0] === '--init' ? args.slice(1) : args;
    const r = await run(context, ['--rm', ...options, 'alpine', ...command]);
    assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
  }
  // the reason on one line, as run -d, exec and exec -d word it (podman's words)
  const missing = await run(context, ['--rm', 'alpine', 'nosuchcommand']);
  assert.is(missing.stderr, 'Error: executable file `nosuchcommand` not found in $PATH: no such file or directory\n');
  const notExecutable = await run(context, ['--rm', 'alpine', '/etc/passwd']);
  assert.is(notExecutable.stderr, 'Error: cannot run /etc/passwd: permission denied\n');
  assert.equal(leftContainers(context).dirs, []);
});

test('options after the image belong to the command', async (context) => {
  const r = await run(context, ['--rm', 'alpine', 'echo', '--rm', '-e', 'x']);
  assert.is(r.stdout, '--rm -e x\n');
});

test('-e (value, from the caller, with =), --env-file order, -w, --hostname, HOSTNAME', async (context) => {
  const r = await runTsbox(
    ['run', '--rm', '-e', 'A=1', '-e', 'FROM_CALLER', '-e', 'B=x=y', '-w', '/tmp/work', '--hostname', 'box', 'alpine', 'sh', '-c', 'echo "$A $FROM_CALLER $B $HOSTNAME $container"; pwd; hostname'],
    { env: { ...context.store.env, FROM_CALLER: 'caller' }, timeoutMs: 60_000 },
  );
  assert.is(r.stdout, '1 caller x=y box podman\n/tmp/work\nbox\n', r.stderr);
});

test('-u 1000 runs as that uid; -u app resolves through the image\'s passwd; root by default', async (context) => {
  assert.is((await run(context, ['--rm', '-u', '1000', 'alpine', 'id', '-u'])).stdout, '1000\n');
  const app = await run(context, ['--rm', '-u', 'app', 'alpine', 'sh', '-c', 'id -u; id -g; echo $HOME']);
  assert.is(app.stdout, '1000\n1000\n/home/app\n', app.stderr);
  assert.is((await run(context, ['--rm', 'alpine', 'sh', '-c', 'id -u; echo $HOME'])).stdout, '0\n/root\n');
});

test('--entrypoint replaces the image\'s and takes CMD as its arguments', async (context) => {
  const r = await run(context, ['--rm', '--entrypoint', '/bin/echo', 'alpine', 'from', 'entrypoint']);
  assert.is(r.stdout, 'from entrypoint\n', r.stderr);
  const json = await run(context, ['--rm', '--entrypoint', '["/bin/sh","-c"]', 'alpine', 'echo json']);
  assert.is(json.stdout, 'json\n', json.stderr);
});

test('image Entrypoint + Cmd, CMD replacing Cmd, --entrypoint \'\' keeping Cmd out of it, image Env and WorkingDir', async (context) => {
  assert.is((await run(context, ['--rm', 'special'])).stdout, 'entry default-cmd\n');
  assert.is((await run(context, ['--rm', 'special', 'given'])).stdout, 'entry given\n');
  const cleared = await run(context, ['--rm', '--entrypoint', '', 'special', 'sh', '-c', 'echo $FROM_IMAGE $PATH; pwd']);
  assert.is(cleared.stdout, '1 /bin\n/home/app\n', cleared.stderr);
});

test('-v host:ctr is read-write with the user\'s own ids outside; :ro is read-only; --tmpfs', async (context) => {
  const r = await run(context, [
    '--rm', '-v', `${context.hostDir}:/data`, '-v', `${context.hostDir}:/ro:ro`, '--tmpfs', '/scratch', 'alpine', 'sh', '-c',
    'cat /data/from-host; echo made >/data/made-inside; echo x >/ro/refused 2>/dev/null || echo ro; echo t >/scratch/t && cat /scratch/t',
  ]);
  assert.is(r.stdout, 'host content\nro\nt\n', r.stderr);
  assert.is(readFileSync(join(context.hostDir, 'made-inside'), 'utf8'), 'made\n');
  assert.not.ok(existsSync(join(context.hostDir, 'refused')));
});

test('volumes: a named one keeps its data across runs; --rm removes anonymous ones', async (context) => {
  const first = await run(context, ['--rm', '--network', 'none', '-v', 'keep:/data', '-v', '/anon', 'alpine', 'sh', '-c', 'echo kept >/data/f; echo gone >/anon/f']);
  assert.is(first.code, 0, first.stderr);
  const second = await run(context, ['--rm', '--network', 'none', '-v', 'keep:/data:ro', 'alpine', 'cat', '/data/f']);
  assert.is(second.stdout, 'kept\n', second.stderr);
  assert.equal(readdirSync(join(context.store.store, 'volumes')).filter((n) => !n.startsWith('.')), ['keep']);
});

test('hostile: a -v destination through symlinks in the image stays inside the root', async (context) => {
  const r = await run(context, [
    '--rm', '-v', `${context.hostDir}:/tmpesc/mnt`, '-v', `${context.hostDir}:/escape/viaroot`, '--entrypoint', '', 'special', 'sh', '-c', 'cat /viaroot/from-host',
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'host content\n');
  // followed on the host, the first mount point would have been made in the target directory
  assert.equal(readdirSync(context.hostTarget), []);
});

test('hostile: -w through a symlink out of the root, and a generated /etc file over a symlink, stay inside', async (context) => {
  const r = await run(context, ['--rm', '-w', '/tmpesc/work', '--entrypoint', '', 'special', 'sh', '-c', 'pwd; touch made-here; cat /etc/resolv.conf >/dev/null && echo resolv-ok']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /resolv-ok\n$/);
  assert.equal(readdirSync(context.hostTarget), []);
});

test('stdin flows through with -i: echo hi | tsbox run -i img cat; without -i the container reads /dev/null', async (context) => {
  const r = await run(context, ['--rm', '-i', 'alpine', 'cat'], 'hi\n');
  assert.is(r.stdout, 'hi\n', r.stderr);
  const detached = await run(context, ['--rm', '--network', 'none', 'alpine', 'sh', '-c', 'cat; readlink /proc/self/fd/0'], 'not read\n');
  assert.is(detached.stdout, '/dev/null\n', detached.stderr);
});

test('a 100 MB stream passes through stdin and stdout byte-exact', async (context) => {
  const data = randomBytes(100 * 1024 * 1024);
  const expected = createHash('sha256').update(data).digest('hex');
  const child = spawn(process.execPath, [TSBOX_BIN, 'run', '--rm', '-i', 'alpine', 'cat'], {
    env: { ...process.env, ...context.store.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const hash = createHash('sha256');
  let bytes = 0;
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    hash.update(b);
    bytes += b.length;
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdin.on('error', () => {}); // a run that fails early closes its stdin: the status tells
  child.stdin.end(data);
  const code = await withTimeout(new Promise<number | null>((resolve) => child.on('close', resolve)), 120_000, 'the 100 MB stream').catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  assert.is(code, 0, stderr);
  assert.is(bytes, data.length);
  assert.is(hash.digest('hex'), expected);
});

test('-t: the command gets a terminal and TERM=xterm', async (context) => {
  // script(1) gives tsbox a terminal of its own to relay
  const command = `${process.execPath} ${TSBOX_BIN} run --rm -t --network none alpine sh -c 'tty; echo $TERM'`;
  const r = await runProgram('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...context.store.env }, timeoutMs: 60_000 });
  assert.is(r.code, 0, r.stderr + r.stdout);
  // the container's pty turns \n into \r\n (one more \r when the outer terminal is not yet raw)
  // script(1) turns the EOF of its own stdin into a NUL for the terminal, echoed as ^@ wherever it lands
  const seen = r.stdout.replaceAll('^@', '');
  assert.match(seen, /\/dev\/pts\/\d+\r+\nxterm\r+\n$/, JSON.stringify(r.stdout));
  const plain = await run(context, ['--rm', 'alpine', 'sh', '-c', 'tty; echo "${TERM:-unset}"']);
  assert.is(plain.stdout, 'not a tty\nunset\n');
});

test('-t without -i: a terminal, but the keys typed are not the command\'s (podman\'s); -it relays them', async (context) => {
  const read = `sh -c 'if read -t 3 line; then echo got:$line; else echo nothing; fi'`;
  for (const [flags, expected] of [['-t', /nothing/], ['-it', /got:typed/]] as const) {
    const command = `${process.execPath} ${TSBOX_BIN} run --rm ${flags} --network none alpine ${read}`;
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000, input: 'typed\n', env: { ...process.env, ...context.store.env } });
    assert.is(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, expected, `${flags}: ${JSON.stringify(r.stdout)}`);
  }
});

test('--rm leaves no container directory, no claimed name and no process', async (context) => {
  const marker = `tsbox-marker-${randomBytes(4).toString('hex')}`;
  const r = await run(context, ['--rm', '--name', marker, 'alpine', 'sh', '-c', `touch /written-file; echo ${marker} >/dev/null`]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(leftContainers(context), { dirs: [], names: [] });
  assert.equal(processesWith(marker), []);
});

test('parallel runs: each gets its own container and name; --rm leaves nothing', async (context) => {
  const before = leftContainers(context);
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => run(context, ['--rm', 'alpine', 'sh', '-c', `echo ${i} >/mine; cat /mine; hostname`])));
  results.forEach((r, i) => {
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout.split('\n')[0], String(i)); // no container saw another's writable layer
  });
  assert.is(new Set(results.map((r) => r.stdout.split('\n')[1])).size, 6);
  assert.equal(leftContainers(context), before);
});

test('without --rm the container stays; its name is then in use (podman\'s wording)', async (context) => {
  const first = await run(context, ['--name', 'kept', 'alpine', 'true']);
  assert.is(first.code, 0, first.stderr);
  const left = leftContainers(context);
  assert.is(left.dirs.length, 1);
  const config = JSON.parse(readFileSync(join(context.store.store, 'containers', left.dirs[0]!, 'config.json'), 'utf8'));
  assert.is(config.Name, 'kept');
  const state = JSON.parse(readFileSync(join(context.store.store, 'containers', left.dirs[0]!, 'state.json'), 'utf8'));
  assert.is(state.Status, 'exited');
  assert.is(state.ExitCode, 0);
  const second = await run(context, ['--rm', '--name', 'kept', 'alpine', 'true']);
  assert.is(second.code, 125);
  assert.match(second.stderr, `Error: the container name "kept" is already in use by ${left.dirs[0]}. You have to remove that container to be able to reuse that name: that name is already in use`);
});

test('--network none: only the loopback interface; --network host: the host\'s interfaces and name', async (context) => {
  const r = await run(context, ['--rm', '--network', 'none', 'alpine', 'ls', '/sys/class/net']);
  assert.is(r.stdout, 'lo\n', r.stderr);
  const host = await run(context, ['--rm', '--network', 'host', 'alpine', 'sh', '-c', 'hostname; ls /sys/class/net']);
  assert.is(host.stdout, `${hostname()}\n${readdirSync('/sys/class/net').sort().join('\n')}\n`, host.stderr);
});

test('default network: -p publishes a container port on the host; /etc/hosts names the container', async (context) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const container = run(context, ['--rm', '--name', 'web', '-p', `127.0.0.1:${port}:8080`, 'alpine', 'sh', '-c', 'grep -c web /etc/hosts; echo served | nc -l -p 8080']);
  const received = await waitFor(
    () =>
      new Promise<string | undefined>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        let data = '';
        socket.on('data', (b) => (data += b.toString()));
        socket.on('end', () => resolve(data || undefined));
        socket.on('error', () => resolve(undefined));
      }),
    30_000,
    'the published port to answer',
    200,
  );
  assert.is(received, 'served\n');
  const r = await withTimeout(container, 30_000, 'the container to exit');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '1\n');
});

test('--read-only: the root cannot be written; /dev, /tmp, /run, /var/tmp still can (podman\'s --read-only-tmpfs)', async (context) => {
  const r = await run(context, ['--rm', '--read-only', 'alpine', 'sh', '-c', 'touch /newfile 2>/dev/null && echo wrote || echo refused; echo x >/dev/null && touch /tmp/a /run/b /var/tmp/c && echo tmp-ok']);
  assert.is(r.stdout, 'refused\ntmp-ok\n', r.stderr);
  const rw = await run(context, ['--rm', 'alpine', 'sh', '-c', 'touch /newfile && echo wrote']);
  assert.is(rw.stdout, 'wrote\n', rw.stderr);
});

test('/run/.containerenv as podman: empty, or who the container is with --privileged', async (context) => {
  const plain = await run(context, ['--rm', '--network', 'none', 'alpine', 'wc', '-c', '/run/.containerenv']);
  assert.match(plain.stdout, /^\s*0 \/run\/.containerenv/, plain.stderr);
  const privileged = await run(context, ['--rm', '--network', 'none', '--privileged', '--name', 'priv', 'alpine', 'cat', '/run/.containerenv']);
  assert.match(privileged.stdout, /^engine="tsbox"\nname="priv"\nid="[0-9a-f]{64}"\nimage="docker.io\/library\/alpine:latest"\nimageid="[0-9a-f]{64}"\nrootless=1\n$/);
});

test('ids: root inside is the user, 1.. the subordinate range', async (context) => {
  const r = await run(context, ['--rm', 'alpine', 'cat', '/proc/self/uid_map']);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  assert.equal(lines[0], [0, process.getuid!(), 1], r.stdout);
  assert.is(lines[1]![0], 1);
});

test('--userns keep-id: the own uid inside, without re-owning the image', async (context) => {
  const uid = process.getuid!();
  const r = await run(context, ['--rm', '--network', 'none', '--userns', 'keep-id', '-v', `${context.hostDir}:/d`, 'alpine', 'sh', '-c', 'id -u; stat -c %u /bin/busybox /d/from-host; touch /d/keep-id-made']);
  // the image's root files show as the user (the swap), host files as their owner, new files are the user's outside
  assert.is(r.stdout, `${uid}\n${uid}\n${statSync(join(context.hostDir, 'from-host')).uid}\n`, r.stderr);
  assert.is(statSync(join(context.hostDir, 'keep-id-made')).uid, uid);
});

test('--userns keep-id with a rootless network: the backend joins the container (slirp4netns and the default)', async (context) => {
  const uid = process.getuid!();
  const slirp = await run(context, ['--rm', '--network', 'slirp4netns', '--userns', 'keep-id', 'alpine', 'sh', '-c', 'id -u; grep -c tap0 /proc/net/dev']);
  assert.is(slirp.code, 0, slirp.stderr);
  assert.is(slirp.stdout, `${uid}\n1\n`);
  const plain = await run(context, ['--rm', '--userns', 'keep-id', 'alpine', 'id', '-u']);
  assert.is(plain.code, 0, plain.stderr);
  assert.is(plain.stdout, `${uid}\n`);
});

test('masked and read-only paths: /proc/keys is /dev/null, /proc/sys read-only; not with --privileged', async (context) => {
  // (/proc/kcore is masked the same way; this host's kernel has none)
  const script = 'stat -c %F /proc/keys; wc -c </proc/keys; echo 1 >/proc/sys/kernel/domainname 2>/dev/null && echo wrote || echo refused';
  const r = await run(context, ['--rm', 'alpine', 'sh', '-c', script]);
  assert.equal(r.stdout.split('\n').map((l) => l.trim()), ['character special file', '0', 'refused', ''], r.stderr);
  const privileged = await run(context, ['--rm', '--privileged', 'alpine', 'stat', '-c', '%F', '/proc/keys']);
  assert.is(privileged.stdout, 'regular empty file\n', privileged.stderr);
});

/** Fields of /proc/self/status inside a container run with `options`. */
async function processStatus(context: Context, options: string[]): Promise<Record<string, string>> {
  const r = await run(context, ['--rm', '--network', 'none', ...options, 'alpine', 'cat', '/proc/self/status']);
  assert.is(r.code, 0, r.stderr);
  return Object.fromEntries(r.stdout.split('\n').map((l) => l.split(':\t')).filter((kv) => kv.length === 2).map(([k, v]) => [k!, v!.trim()]));
}

test('security: seccomp filter on by default, off when unconfined; podman\'s default caps; drop ALL; no-new-privileges', async (context) => {
  const plain = await processStatus(context, []);
  assert.is(plain.Seccomp, '2');
  assert.is(plain.NoNewPrivs, '0');
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP
  assert.is(plain.CapEff, '00000000800405fb');
  assert.is(plain.CapBnd, '00000000800405fb');
  assert.is((await processStatus(context, ['--security-opt', 'seccomp=unconfined'])).Seccomp, '0');
  const dropped = await processStatus(context, ['--cap-drop', 'ALL', '--security-opt', 'no-new-privileges']);
  assert.is(dropped.CapEff, '0000000000000000');
  assert.is(dropped.CapBnd, '0000000000000000');
  assert.is(dropped.NoNewPrivs, '1');
});

test('security: unshare -U and mount are denied by default (keyctl and kexec_load: see the seccomp unit tests) and allowed with --cap-add SYS_ADMIN', async (context) => {
  const probe = 'unshare -U true; echo unshare=$?; mount -t tmpfs none /tmp; echo mount=$?';
  const denied = await run(context, ['--rm', '--network', 'none', 'alpine', 'sh', '-c', probe]);
  assert.is(denied.code, 0, denied.stderr);
  assert.match(denied.stdout, /unshare=1/);
  assert.match(denied.stdout, /mount=1/);
  assert.match(denied.stderr, /unshare\(0x10000000\): Operation not permitted/);
  const allowed = await run(context, ['--rm', '--network', 'none', '--cap-add', 'SYS_ADMIN', 'alpine', 'sh', '-c', probe]);
  assert.match(allowed.stdout, /unshare=0/);
  assert.match(allowed.stdout, /mount=0/);
});

test('hostile -w /proc/self/fd/N never lands in a host directory', async (context) => {
  for (const n of [3, 4, 5, 6, 7]) {
    const r = await run(context, ['--rm', '-w', `/proc/self/fd/${n}`, 'alpine', 'sh', '-c', 'ls -a; readlink -f .']);
    // the store's layers/ or the container's own directories would show these names
    for (const hostName of ['config.json', 'userdata', 'upper', 'storage.json', 'store.lock', 'layers']) {
      assert.not.ok(r.stdout.split('\n').includes(hostName), `fd ${n}: ${r.stdout}`);
    }
  }
});

/** `tsbox run --rm --network none alpine sh -c SCRIPT` in the background, once SCRIPT has printed "ready". */
async function startUntilReady(context: Context, script: string, options: { detached?: boolean } = {}) {
  const child = spawn(process.execPath, [TSBOX_BIN, 'run', '--rm', '--network', 'none', 'alpine', 'sh', '-c', script], {
    env: { ...process.env, ...context.store.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const seen = { out: '', err: '' };
  child.stderr.on('data', (b: Buffer) => (seen.err += b.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const ready = withTimeout(
    new Promise<void>((resolve) =>
      child.stdout.on('data', (b: Buffer) => {
        seen.out += b.toString();
        if (seen.out.includes('ready')) resolve();
      }),
    ),
    30_000,
    'the container to start',
  );
  return { child, seen, closed, ready };
}

test('SIGTERM to tsbox reaches the container; its exit status comes back', async (context) => {
  const { child, seen, closed, ready } = await startUntilReady(context, 'trap "echo got-term; exit 7" TERM; echo ready; while true; do sleep 0.05; done');
  try {
    await ready;
    child.kill('SIGTERM');
    const code = await withTimeout(closed, 30_000, 'the container to exit after SIGTERM');
    assert.is(code, 7, seen.err);
    assert.is(seen.out, 'ready\ngot-term\n');
  } finally {
    child.kill('SIGKILL');
  }
});

test('a terminal\'s Ctrl-C (SIGINT to the whole process group) reaches the container once', async (context) => {
  // detached: tsbox leads a process group of its own, as a shell's foreground job does
  const script = 'trap "echo got-int" INT; echo ready; i=0; while [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done; echo done';
  const { child, seen, closed, ready } = await startUntilReady(context, script, { detached: true });
  try {
    await ready;
    process.kill(-child.pid!, 'SIGINT');
    const code = await withTimeout(closed, 30_000, 'the container to finish');
    assert.is(code, 0, seen.err);
    assert.is(seen.out, 'ready\ngot-int\ndone\n');
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

test('--env-file: KEY=VALUE lines, KEY from the caller, comments skipped; -e wins', async (context) => {
  // node 20 itself reads any `--env-file` in argv, even after the script (nodejs/node#54232),
  // unless `--` ends its own options: so tsbox is started as `node -- bin/tsbox` here
  const tsbox = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runProgram(process.execPath, ['--', TSBOX_BIN, ...args], { env: { ...process.env, ...context.store.env, ...env }, timeoutMs: 60_000 });
  const file = join(context.hostDir, 'env.list');
  writeFileSync(file, '# settings\nONE=1\nTWO=file\nPASSED\n');
  const r = await tsbox(['run', '--rm', '--network', 'none', '--env-file', file, '-e', 'TWO=flag', 'alpine', 'sh', '-c', 'echo $ONE $TWO $PASSED'], { PASSED: 'through' });
  assert.is(r.stdout, '1 flag through\n', r.stderr);
  const missing = await tsbox(['run', '--rm', '--env-file', join(context.hostDir, 'nope'), 'alpine', 'true']);
  assert.is(missing.code, 125);
  assert.match(missing.stderr, /Error: reading --env-file .*nope: no such file or directory/);
});

test('--rootfs DIR runs from a plain directory, writing into it', async (context) => {
  const rootfs = join(context.hostDir, 'rootfs');
  for (const dir of ['bin', 'proc', 'dev', 'sys', 'etc', 'tmp']) mkdirSync(join(rootfs, dir), { recursive: true });
  writeFileSync(join(rootfs, 'bin', 'busybox'), readFileSync('/bin/busybox'), { mode: 0o755 });
  const r = await run(context, ['--rm', '--network', 'none', '--rootfs', rootfs, '/bin/busybox', 'sh', '-c', 'echo from-rootfs > /tmp/out; /bin/busybox cat /tmp/out']);
  assert.is(r.stdout, 'from-rootfs\n', r.stderr);
  assert.is(readFileSync(join(rootfs, 'tmp', 'out'), 'utf8'), 'from-rootfs\n');
});

test('the seccomp program is compiled once and then read from the runtime dir', async (context) => {
  const dir = join(context.store.env.XDG_RUNTIME_DIR!, 'tsbox', 'seccomp');
  assert.ok(existsSync(dir) && readdirSync(dir).length >= 1, 'earlier runs cached their program');
  const before = readdirSync(dir).sort();
  const r = await run(context, ['--rm', '--network', 'none', 'alpine', 'grep', 'Seccomp:', '/proc/self/status']);
  assert.match(r.stdout, /Seccomp:\s+2/);
  assert.equal(readdirSync(dir).sort(), before);
});

test('tsbox unshare runs a command as root in the store\'s namespace; its status comes back', async (context) => {
  const r = await runTsbox(['unshare', 'sh', '-c', 'id -u; cat /proc/self/uid_map; exit 4'], { env: context.store.env, timeoutMs: 30_000 });
  assert.is(r.code, 4, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines[0], '0');
  assert.equal(lines[1]!.trim().split(/\s+/).map(Number), [0, process.getuid!(), 1]);
  const missing = await runTsbox(['unshare', 'no-such-program'], { env: context.store.env, timeoutMs: 30_000 });
  assert.is(missing.code, 127);
});

test('bad --pull and --restart values are refused before anything is created', async (context) => {
  const before = leftContainers(context).dirs.length;
  const restart = await run(context, ['--restart', 'sometimes', 'alpine', 'true']);
  assert.is(restart.code, 125);
  assert.match(restart.stderr, /invalid restart policy "sometimes"/);
  const p = await run(context, ['--pull', 'sometimes', 'alpine', 'true']);
  assert.is(p.code, 125);
  assert.match(p.stderr, /invalid --pull "sometimes"/);
  assert.is(leftContainers(context).dirs.length, before);
});

test('a helper that cannot run: exit 125 with the fix, and --rm still leaves nothing behind', async (context) => {
  const r = await runTsbox(['run', '--rm', '--network', 'none', 'alpine', 'true'], {
    env: { ...context.store.env, TSBOX_HELPER: '/nonexistent/tsbox-helper' },
    timeoutMs: 30_000,
  });
  assert.is(r.code, 125);
  assert.match(r.stderr, 'Error: cannot run the helper /nonexistent/tsbox-helper: not found (build it with `npm run build`');
  const left = leftContainers(context);
  assert.is(left.names.filter((n) => n !== 'kept').length, 0);
  assert.is(left.dirs.length, 1); // only the container kept on purpose earlier
});

test('--pull always pulls again (progress on stderr, nothing on stdout); --pull never runs a stored image', async (context) => {
  const always = await run(context, ['--rm', '--pull', 'always', 'alpine', 'echo', 'fresh']);
  assert.is(always.code, 0, always.stderr);
  assert.is(always.stdout, 'fresh\n');
  assert.match(always.stderr, /Writing manifest/);
  const never = await run(context, ['--rm', '--pull', 'never', 'alpine', 'echo', 'stored']);
  assert.is(never.stdout, 'stored\n', never.stderr);
  assert.is(never.stderr, '');
});

test('--pull never with a missing image: image not known, exit 125', async (context) => {
  const r = await run(context, ['--rm', '--pull', 'never', 'nosuchimage', 'true']);
  assert.is(r.code, 125);
  assert.match(r.stderr, /nosuchimage: image not known/);
});

test.run();
