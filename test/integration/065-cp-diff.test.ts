// tsbox diff and tsbox cp against real containers, as the unprivileged user:
// the changes a run made (A/C/D), files and directories copied out of and
// into stopped and running containers, tar streams both ways, owners, and
// symlinks in the container that point at / or at a host directory, which
// must never make cp read or write a host file.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { runTsbox, type RunResult } from '../lib/tsbox.js';
import { startBusyboxStore, stopBusyboxStore, tsboxIn as tsbox, type BusyboxContext } from '../lib/busybox-suite.js';
import { waitFor } from '../lib/timeout.js';

interface Context extends BusyboxContext {
  /** a host directory of the test's own, for copies out and in */
  host: string;
}

const test = suite<Context>('cp-diff');

test.before(async (context) => {
  await startBusyboxStore(context);
  context.host = mkdtempSync(join(tmpdir(), 'tsbox-cp-'));
});

test.after(async (context) => {
  await stopBusyboxStore(context);
  if (context.host) rmSync(context.host, { recursive: true, force: true });
});

async function ok(context: Context, args: string[], input?: string | Buffer): Promise<RunResult> {
  const r = await tsbox(context, args, input);
  assert.is(r.code, 0, `tsbox ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** A fresh host directory below the test's own. */
function hostDir(context: Context, name: string): string {
  const dir = join(context.host, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The entries of a tar (names, types, owners, contents). */
async function readTar(bytes: Buffer): Promise<Array<{ name: string; type: string; uid: number; gid: number; content: string }>> {
  const extract = tar.extract();
  const out: Array<{ name: string; type: string; uid: number; gid: number; content: string }> = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const h = entry.header;
      out.push({ name: h.name, type: String(h.type), uid: h.uid ?? -1, gid: h.gid ?? -1, content: Buffer.concat(chunks).toString() });
    }
  })();
  extract.end(bytes);
  await done;
  return out;
}

async function makeTar(entries: Array<{ name: string; content?: string; type?: 'file' | 'directory'; uid?: number; gid?: number; mode?: number }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: e.mode ?? 0o755, uid: e.uid ?? 0, gid: e.gid ?? 0 });
    else pack.entry({ name: e.name, mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0 }, e.content ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `tsbox cp SRC -` as raw bytes (runTsbox's stdout is text). */
async function cpToStdout(context: Context, src: string): Promise<Buffer> {
  const { spawn } = await import('node:child_process');
  const { TSBOX_BIN } = await import('../lib/tsbox.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--', TSBOX_BIN, 'cp', src, '-'], { env: { ...process.env, ...context.store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`cp ${src} - exited ${code}: ${err}`));
    });
  });
}

// What the first container does: adds, changes, removes; a 0700 directory of a non-root user.
const CHANGES = [
  'echo x > /newfile',
  'mkdir -p /newdir/sub && echo y > /newdir/sub/f',
  'echo more >> /etc/passwd',
  'rm /etc/os-release',
  'mkdir -m 700 /home/app/private && echo s > /home/app/private/s && chmod 600 /home/app/private/s && chown -R 1000:1000 /home/app/private',
  'echo owned > /owned && chown 1234:1234 /owned',
].join(' && ');

test('diff: A, C and D lines of a finished run, sorted, a 0700 directory of uid 1000 read; --format json', async (context) => {
  await ok(context, ['run', '--network', 'none', '--name', 'd1', 'busybox', 'sh', '-c', CHANGES]);
  const r = await ok(context, ['diff', 'd1']);
  assert.is(
    r.stdout,
    [
      'C /etc', 'D /etc/os-release', 'C /etc/passwd', 'C /home', 'C /home/app', 'A /home/app/private', 'A /home/app/private/s',
      'A /newdir', 'A /newdir/sub', 'A /newdir/sub/f', 'A /newfile', 'A /owned',
    ].map((l) => `${l}\n`).join(''),
  );
  const json = JSON.parse((await ok(context, ['container', 'diff', '--format', 'json', 'd1'])).stdout);
  assert.equal(json, {
    changed: ['/etc', '/etc/passwd', '/home', '/home/app'],
    added: ['/home/app/private', '/home/app/private/s', '/newdir', '/newdir/sub', '/newdir/sub/f', '/newfile', '/owned'],
    deleted: ['/etc/os-release'],
  });
  const missing = await tsbox(context, ['diff', 'nosuch']);
  assert.is(missing.code, 125);
  assert.match(missing.stderr, 'no container with name or ID "nosuch" found: no such container');
});

test('cp out of a stopped container: a file, a directory, a directory\'s contents, a 0700 directory', async (context) => {
  const out = hostDir(context, 'out-stopped');
  await ok(context, ['cp', 'd1:/newfile', join(out, 'file')]);
  assert.is(readFileSync(join(out, 'file'), 'utf8'), 'x\n');
  // into an existing directory, under the source's name
  await ok(context, ['cp', 'd1:newdir', out]);
  assert.is(readFileSync(join(out, 'newdir', 'sub', 'f'), 'utf8'), 'y\n');
  // a destination that does not exist becomes the directory
  await ok(context, ['cp', 'd1:/newdir/.', join(out, 'contents')]);
  assert.is(readFileSync(join(out, 'contents', 'sub', 'f'), 'utf8'), 'y\n');
  // contents into an existing directory: no newdir/ level
  mkdirSync(join(out, 'merged'));
  await ok(context, ['cp', 'd1:/newdir/.', join(out, 'merged')]);
  assert.equal(readdirSync(join(out, 'merged')), ['sub']);
  await ok(context, ['cp', 'd1:/home/app/private', join(out, 'private')]);
  assert.is(readFileSync(join(out, 'private', 's'), 'utf8'), 's\n');
  assert.is(statSync(join(out, 'private', 's')).uid, process.getuid!(), 'copied out: the user\'s');
  // a deleted file is gone in the container's view
  const gone = await tsbox(context, ['cp', 'd1:/etc/os-release', out]);
  assert.is(gone.code, 125);
  assert.match(gone.stderr, '"/etc/os-release" could not be found on container d1: no such file or directory');
  const noContainer = await tsbox(context, ['cp', 'nosuch:/x', out]);
  assert.is(noContainer.code, 125);
  assert.match(noContainer.stderr, 'no such container');
  const noDir = await tsbox(context, ['cp', 'd1:/newdir', join(out, 'file')]);
  assert.is(noDir.code, 125);
  assert.match(noDir.stderr, 'cannot overwrite non-directory');
});

test('cp - : a tar stream of a directory with the container\'s owners; --archive=false keeps them going in, -a makes them the container user\'s', async (context) => {
  const entries = await readTar(await cpToStdout(context, 'd1:/newdir'));
  assert.equal(entries.map((e) => e.name), ['newdir/', 'newdir/sub/', 'newdir/sub/f']);
  assert.is(entries[2]!.content, 'y\n');
  const owned = await readTar(await cpToStdout(context, 'd1:/owned'));
  assert.equal(owned.map((e) => [e.name, e.uid, e.gid, e.content]), [['owned', 1234, 1234, 'owned\n']]);

  await ok(context, ['create', '--network', 'none', '--name', 'c-tar', 'busybox', 'sh', '-c', 'stat -c "%u:%g %n" /tmp/keep/owned /tmp/chowned/owned; cat /tmp/keep/owned']);
  const stream = await cpToStdout(context, 'd1:/owned');
  await ok(context, ['cp', '-', 'c-tar:/tmp'], await makeTar([{ name: 'keep/', type: 'directory' }, { name: 'chowned/', type: 'directory' }]));
  await ok(context, ['cp', '--archive=false', '-', 'c-tar:/tmp/keep'], stream);
  await ok(context, ['cp', '-', 'c-tar:/tmp/chowned'], stream);
  const r = await ok(context, ['start', '-a', 'c-tar']);
  assert.is(r.stdout, '1234:1234 /tmp/keep/owned\n0:0 /tmp/chowned/owned\nowned\n');
  // into a path that is not a directory
  const notDir = await tsbox(context, ['cp', '-', 'd1:/newfile'], stream);
  assert.is(notDir.code, 125);
  assert.match(notDir.stderr, 'not a directory');
});

test('cp into a stopped container: a file and a directory, seen by its command; the owner is the container user\'s', async (context) => {
  const src = hostDir(context, 'in-stopped');
  writeFileSync(join(src, 'greeting'), 'hello from the host\n');
  mkdirSync(join(src, 'tree', 'deep'), { recursive: true });
  writeFileSync(join(src, 'tree', 'deep', 'leaf'), 'leaf\n');
  await ok(context, ['create', '--network', 'none', '--name', 'c-in', 'busybox', 'sh', '-c', 'cat /greeting /tmp/tree/deep/leaf /etc/greeting2; stat -c "%u:%g" /greeting /tmp/tree/deep/leaf']);
  await ok(context, ['cp', join(src, 'greeting'), 'c-in:/']);
  await ok(context, ['cp', join(src, 'greeting'), 'c-in:/etc/greeting2']);
  await ok(context, ['cp', join(src, 'tree'), 'c-in:/tmp/tree']);
  const r = await ok(context, ['start', '-a', 'c-in']);
  assert.is(r.stdout, 'hello from the host\nleaf\nhello from the host\n0:0\n0:0\n');
  // and the writable layer has them as additions
  const diff = await ok(context, ['diff', 'c-in']);
  assert.match(diff.stdout, 'A /greeting\n');
  assert.match(diff.stdout, 'A /tmp/tree/deep/leaf\n');
  assert.match(diff.stdout, 'A /etc/greeting2\n');
  const noParent = await tsbox(context, ['cp', join(src, 'greeting'), 'c-in:/no/such/dir/file']);
  assert.is(noParent.code, 125, noParent.stderr);
  assert.match(noParent.stderr, 'could not be found on container c-in');
  const noSource = await tsbox(context, ['cp', join(src, 'absent'), 'c-in:/']);
  assert.is(noSource.code, 125);
  assert.match(noSource.stderr, `"${join(src, 'absent')}" could not be found on the host: no such file or directory`);
});

test('a running container: diff sees its changes, cp out and in while it runs, exec sees what came in', async (context) => {
  const id = (await ok(context, ['run', '-d', '--network', 'none', '--name', 'r1', '-u', '1000', 'busybox', 'sh', '-c', 'mkdir -m 700 /tmp/mine && echo live > /tmp/mine/f; sleep 300'])).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  await waitFor(async () => ((await tsbox(context, ['diff', 'r1'])).stdout.includes('A /tmp/mine/f') ? true : undefined), 10_000, 'the running container\'s file');
  const out = hostDir(context, 'out-running');
  await ok(context, ['cp', 'r1:/tmp/mine', out]);
  assert.is(readFileSync(join(out, 'mine', 'f'), 'utf8'), 'live\n');
  await ok(context, ['cp', 'r1:/etc/passwd', join(out, 'passwd')]);
  assert.match(readFileSync(join(out, 'passwd'), 'utf8'), 'app:x:1000:1000');
  const src = hostDir(context, 'in-running');
  writeFileSync(join(src, 'note'), 'to a running container\n');
  await ok(context, ['cp', join(src, 'note'), 'r1:/tmp/mine/note']);
  const seen = await ok(context, ['exec', 'r1', 'sh', '-c', 'cat /tmp/mine/note; stat -c %u:%g /tmp/mine/note']);
  // -a: the container's user (1000 and its group from /etc/passwd)
  assert.is(seen.stdout, 'to a running container\n1000:1000\n');
  await ok(context, ['rm', '-f', 'r1']);
});

test('symlinks in the container to / and to a host directory: cp stays inside the container', async (context) => {
  const hostSecret = hostDir(context, 'host-secret');
  writeFileSync(join(hostSecret, 'secret'), 'host only\n');
  await ok(context, ['run', '--network', 'none', '--name', 's1', 'busybox', 'sh', '-c',
    `ln -s / /rootlink && ln -s ${hostSecret} /hostlink && ln -s ../../../../.. /etc/up && mkdir -p ${hostSecret} && echo container > ${hostSecret}/inside && echo mark > /etc/marker`]);
  const out = hostDir(context, 'out-links');
  // through a link to /: the container's /
  await ok(context, ['cp', 's1:/rootlink/etc/marker', join(out, 'marker')]);
  assert.is(readFileSync(join(out, 'marker'), 'utf8'), 'mark\n');
  await ok(context, ['cp', 's1:/etc/up/etc/marker', join(out, 'marker2')]);
  assert.is(readFileSync(join(out, 'marker2'), 'utf8'), 'mark\n');
  // through a link to the host directory's path: the container's directory of that name
  await ok(context, ['cp', 's1:/hostlink/inside', join(out, 'inside')]);
  assert.is(readFileSync(join(out, 'inside'), 'utf8'), 'container\n');
  const secret = await tsbox(context, ['cp', 's1:/hostlink/secret', join(out, 'secret')]);
  assert.is(secret.code, 125, 'the host file is not there in the container');
  assert.match(secret.stderr, 'could not be found on container s1');
  assert.not.ok(existsSync(join(out, 'secret')));
  // writes through the links land in the container
  const src = hostDir(context, 'in-links');
  writeFileSync(join(src, 'planted'), 'planted\n');
  await ok(context, ['cp', join(src, 'planted'), 's1:/hostlink/planted']);
  await ok(context, ['cp', join(src, 'planted'), 's1:/rootlink/tmp/planted']);
  await ok(context, ['cp', '-', 's1:/hostlink'], await makeTar([{ name: 'from-tar', content: 'tar\n' }]));
  assert.equal(readdirSync(hostSecret).sort(), ['secret'], 'nothing written to the host directory');
  assert.not.ok(existsSync('/tmp/planted'));
  const planted = await readTar(await cpToStdout(context, `s1:${hostSecret}/.`));
  assert.equal(planted.map((e) => e.name).sort(), ['./', './from-tar', './inside', './planted']);
  const tmp = await readTar(await cpToStdout(context, 's1:/tmp/planted'));
  assert.is(tmp[0]!.content, 'planted\n');
  // the link itself, given as the source, is copied as what it points to in the container
  await ok(context, ['cp', 's1:/hostlink', join(out, 'linkdir')]);
  assert.equal(readdirSync(join(out, 'linkdir')).sort(), ['from-tar', 'inside', 'planted']);
});

test.run();
