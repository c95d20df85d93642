// tsbox exec against real containers, as the unprivileged user: a detached
// busybox container running as user 1000 with its own env and working
// directory, and commands run in it with the container's defaults and with
// -u, -w, -e, --env-file, -t, -d; exit statuses; a stopped container.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { compileSeccomp, nativeSeccompArch } from '../../core/security/seccomp.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { pushBusybox } from '../lib/fixtures.js';
import { runTsbox, TSBOX_BIN, type RunResult } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { waitFor } from '../lib/timeout.js';

interface Context {
  registry: TestRegistry;
  store: TestStore;
  work: string;
}

const test = suite<Context>('exec');

function tsbox(context: Context, args: string[], input?: string): Promise<RunResult> {
  return runTsbox(args, { env: context.store.env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
}

test.before(async (context) => {
  context.registry = await startRegistry();
  await pushBusybox(context.registry);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host, { mirrorDockerIo: true });
  context.work = mkdtempSync(join(tmpdir(), 'tsbox-exec-'));
  const started = await tsbox(context, ['run', '-d', '--name', 'web', '--network', 'none', '-u', '1000', '-e', 'FROM_RUN=yes', '-w', '/home/app', 'busybox', 'sleep', '300']);
  assert.is(started.code, 0, started.stderr);
});

test.after(async (context) => {
  await tsbox(context, ['rm', '-f', '-t', '0', 'web', 'stopped']).catch(() => {});
  await context.store?.cleanup();
  await context.registry?.stop();
  if (context.work) rmSync(context.work, { recursive: true, force: true });
});

test('runs as the container\'s user, in its directory, with its environment and namespaces', async (context) => {
  const r = await tsbox(context, ['exec', 'web', 'sh', '-c', 'id; pwd; echo $FROM_RUN $HOME; ps -o pid,comm | grep -w 1; hostname']);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /^uid=1000\(app\) gid=1000\(app\)/);
  assert.is(lines[1], '/home/app');
  assert.is(lines[2], 'yes /home/app');
  assert.match(lines[3]!, /^\s*1\s+sleep$/);
  // the container's hostname: the first 12 characters of its id
  const id = (await tsbox(context, ['inspect', '--format', '{{.Id}}', 'web'])).stdout.trim();
  if (/^[0-9a-f]{64}$/.test(id)) assert.is(lines[4], id.slice(0, 12));
  else assert.match(lines[4]!, /^[0-9a-f]{12}$/);
});

test('-u 0, -w and -e override the container\'s; --env-file between them', async (context) => {
  const envFile = join(context.work, 'env');
  writeFileSync(envFile, 'FROM_FILE=file\nFROM_RUN=file\n');
  const r = await tsbox(context, ['exec', '-u', '0', '-w', '/tmp', '--env-file', envFile, '-e', 'FROM_RUN=flag', '-e', 'EXTRA=1', 'web', 'sh', '-c', 'id -u; pwd; echo $FROM_RUN $FROM_FILE $EXTRA']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '0\n/tmp\nflag file 1\n');
  const byName = await tsbox(context, ['exec', '--user', 'app:app', 'web', 'id', '-g']);
  assert.is(byName.stdout, '1000\n');
});

test('exit statuses are the command\'s: 0, 3, 127, 126, 128+N', async (context) => {
  const cases: [string[], number][] = [
    [['true'], 0],
    [['sh', '-c', 'exit 3'], 3],
    [['nosuchcommand'], 127],
    [['/etc/passwd'], 126],
    [['sh', '-c', 'kill -9 $$'], 137],
  ];
  for (const [command, code] of cases) {
    const r = await tsbox(context, ['exec', 'web', ...command]);
    assert.is(r.code, code, `${command.join(' ')}: ${r.stderr}`);
  }
});

test('-i passes stdin, without it the command reads /dev/null', async (context) => {
  const piped = await tsbox(context, ['exec', '-i', 'web', 'cat'], 'through stdin\n');
  assert.is(piped.stdout, 'through stdin\n', piped.stderr);
  const closed = await tsbox(context, ['exec', 'web', 'sh', '-c', 'cat; readlink /proc/self/fd/0'], 'not read\n');
  assert.is(closed.stdout, '/dev/null\n', closed.stderr);
});

test('-t gives the command a terminal with TERM set', async (context) => {
  if (!existsSync('/usr/bin/script')) {
    console.log('SKIP part of -t: script(1) is not installed');
    return;
  }
  const command = ['node', '--', TSBOX_BIN, 'exec', '-t', 'web', 'sh', '-c', 'tty; echo term=$TERM'].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 30_000, input: '', env: { ...process.env, ...context.store.env } });
  assert.is(r.status, 0, r.stdout + r.stderr);
  // without -i the outer terminal stays cooked: it turns the pty's \r\n into \r\r\n
  assert.match(r.stdout, /\/dev\/pts\/\d+\r+\nterm=xterm\r+\n/);
});

test('-dt keeps a command that reads its terminal running (no end-of-file sent), as podman\'s', async (context) => {
  const r = await tsbox(context, ['exec', '-d', '-t', 'web', 'sh', '-c', 'tty > /tmp/dt-tty; cat; echo ended > /tmp/dt-ended']);
  assert.is(r.code, 0, r.stderr);
  await waitFor(async () => ((await tsbox(context, ['exec', 'web', 'cat', '/tmp/dt-tty'])).stdout.startsWith('/dev/pts/') ? true : undefined), 10_000, 'the -dt command');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const ended = await tsbox(context, ['exec', 'web', 'cat', '/tmp/dt-ended']);
  assert.is(ended.code, 1, `cat ended: ${ended.stdout}`);
  await tsbox(context, ['exec', 'web', 'pkill', 'cat']);
});

test('-d starts the command in the background and prints nothing', async (context) => {
  const r = await tsbox(context, ['exec', '-d', 'web', 'sh', '-c', 'sleep 0.2; echo done > /tmp/detached']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  await waitFor(async () => ((await tsbox(context, ['exec', 'web', 'cat', '/tmp/detached'])).stdout === 'done\n' ? true : undefined), 10_000, 'the detached command');
  const missing = await tsbox(context, ['exec', '-d', 'web', 'nosuchcommand']);
  assert.is(missing.code, 127);
  assert.is(missing.stderr, 'Error: executable file `nosuchcommand` not found in $PATH: no such file or directory\n');
  const attached = await tsbox(context, ['exec', 'web', '/etc/passwd']);
  assert.is(attached.code, 126);
  assert.is(attached.stderr, 'Error: cannot run /etc/passwd: permission denied\n');
});

test('exec applies the seccomp program its container was started with, kept in the runtime directory', async (context) => {
  const id = (await tsbox(context, ['inspect', '--format', '{{.Id}}', 'web'])).stdout.trim();
  const kept = join(context.store.env.XDG_RUNTIME_DIR!, 'tsbox', 'containers', id, 'seccomp.bpf');
  assert.ok(existsSync(kept), 'run -d keeps the program');
  assert.is(statSync(kept).mode & 0o777, 0o600);
  const original = readFileSync(kept);
  assert.is((await tsbox(context, ['exec', 'web', 'mkdir', '/tmp/allowed'])).code, 0);
  // a program that refuses mkdir: exec must apply the container's kept program, not compile one anew
  const refuseMkdir = compileSeccomp(
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] },
    { arch: nativeSeccompArch(), capabilities: [] },
  );
  writeFileSync(kept, refuseMkdir);
  try {
    const refused = await tsbox(context, ['exec', 'web', 'mkdir', '/tmp/refused']);
    assert.is.not(refused.code, 0, 'mkdir refused by the kept program');
    assert.match(refused.stderr, /Operation not permitted/);
  } finally {
    writeFileSync(kept, original);
  }
  // without a kept program (a container run by an older tsbox): compiled from the container's spec
  rmSync(kept);
  const compiled = await tsbox(context, ['exec', 'web', 'sh', '-c', 'unshare -U true; echo $?']);
  assert.is(compiled.stdout.trim(), '1', 'the default profile still refuses unshare');
});

test('-l acts on the latest container; a missing container and a stopped one are errors (125)', async (context) => {
  const latest = await tsbox(context, ['exec', '-l', 'sh', '-c', 'echo $FROM_RUN']);
  assert.is(latest.stdout, 'yes\n', latest.stderr);
  const missing = await tsbox(context, ['exec', 'nosuchcontainer', 'true']);
  assert.is(missing.code, 125);
  assert.match(missing.stderr, /^Error: no container with name or ID "nosuchcontainer" found: no such container/, missing.stderr);
  const ran = await tsbox(context, ['run', '--name', 'stopped', '--network', 'none', 'busybox', 'true']);
  assert.is(ran.code, 0, ran.stderr);
  const stopped = await tsbox(context, ['exec', 'stopped', 'true']);
  assert.is(stopped.code, 125);
  assert.match(stopped.stderr, /^Error: can only create exec sessions on running containers: container state improper/, stopped.stderr);
});

test.run();
