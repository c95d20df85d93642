// Owners, inside a real user namespace mapped to the test user's subordinate
// ids: the worker unpacks as namespace root, the test looks from outside.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, lstatSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProgram } from '../../lib/tsbox.js';
import { buildTar, canMapSubordinateIds, gzip, workArea, MTIME } from './layers.js';

const WORKER = fileURLToPath(new URL('./unpack-in-userns.js', import.meta.url));

/** The first /etc/subuid (or subgid) range of this user: inside id 1 maps to its start. */
function subordinateStart(file: string): number | undefined {
  const me = userInfo();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [owner, start] = line.split(':');
    if (owner === me.username || owner === String(me.uid)) return Number(start);
  }
  return undefined;
}

const mappable = canMapSubordinateIds() && subordinateStart('/etc/subuid') !== undefined;
if (!mappable) {
  console.log(`  (skipped: user ${userInfo().username} cannot map a subordinate id range with unshare --map-auto; run as a user with /etc/subuid and /etc/subgid ranges)`);
}
const register = mappable ? test : test.skip;

/** What an id inside `unshare --map-auto --map-root-user` is outside: 0 is us, N is start+N-1. */
function outsideUid(inside: number): number {
  return inside === 0 ? process.getuid!() : subordinateStart('/etc/subuid')! + inside - 1;
}
function outsideGid(inside: number): number {
  return inside === 0 ? process.getgid!() : subordinateStart('/etc/subgid')! + inside - 1;
}

let area: ReturnType<typeof workArea>;
test.before.each(() => {
  area = workArea('owners');
});
test.after.each(() => {
  area.cleanup();
});

async function unpackInNamespace(layer: Buffer): Promise<{ diffId: string; size: number; warnings: string[] }> {
  const file = join(area.base, 'layer.tar.gz');
  writeFileSync(file, layer);
  const run = await runProgram('unshare', ['-U', '--map-auto', '--map-root-user', process.execPath, WORKER, file, area.dest], { timeoutMs: 60_000 });
  assert.is(run.code, 0, `worker failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

register('entries get their owners, seen from outside through the subordinate id mapping', async () => {
  await unpackInNamespace(
    gzip(
      await buildTar([
        { name: 'home/', type: 'directory' },
        { name: 'home/user/', type: 'directory', uid: 1000, gid: 1000, mode: 0o751 },
        { name: 'home/user/notes', content: 'mine', uid: 1000, gid: 1000 },
        { name: 'home/user/link', type: 'symlink', linkname: 'notes', uid: 1000, gid: 100 },
        { name: 'var/www/', type: 'directory', uid: 33, gid: 33 },
        { name: 'run/pipe', type: 'fifo', uid: 1000, gid: 1000, mode: 0o600 },
        { name: 'etc/root-owned', content: 'root', uid: 0, gid: 0 },
      ]),
    ),
  );
  const owner = (path: string) => {
    const st = lstatSync(join(area.dest, path));
    return `${st.uid}:${st.gid}`;
  };
  assert.is(owner('home/user'), `${outsideUid(1000)}:${outsideGid(1000)}`);
  assert.is(outsideUid(1000), subordinateStart('/etc/subuid')! + 999);
  assert.is(owner('home/user/notes'), `${outsideUid(1000)}:${outsideGid(1000)}`);
  assert.is(owner('home/user/link'), `${outsideUid(1000)}:${outsideGid(100)}`);
  assert.is(owner('var/www'), `${outsideUid(33)}:${outsideGid(33)}`);
  assert.is(owner('run/pipe'), `${outsideUid(1000)}:${outsideGid(1000)}`);
  assert.is(owner('etc/root-owned'), `${process.getuid!()}:${process.getgid!()}`);
  assert.is(statSync(join(area.dest, 'home/user')).mode & 0o7777, 0o751);
  assert.is(statSync(join(area.dest, 'home/user')).mtimeMs, MTIME.getTime());
});

register('setuid and setgid survive the change of owner', async () => {
  await unpackInNamespace(
    gzip(
      await buildTar([
        { name: 'usr/bin/passwd', content: 'x', uid: 0, gid: 0, mode: 0o4755 },
        { name: 'usr/bin/crontab', content: 'x', uid: 1000, gid: 102, mode: 0o2755 },
        { name: 'usr/bin/both', content: 'x', uid: 5, gid: 5, mode: 0o6750 },
        { name: 'shared/', type: 'directory', uid: 1000, gid: 1000, mode: 0o3777 },
      ]),
    ),
  );
  const mode = (path: string) => statSync(join(area.dest, path)).mode & 0o7777;
  assert.is(mode('usr/bin/passwd'), 0o4755);
  assert.is(mode('usr/bin/crontab'), 0o2755);
  assert.is(mode('usr/bin/both'), 0o6750);
  assert.is(mode('shared'), 0o3777);
  assert.is(statSync(join(area.dest, 'usr/bin/crontab')).gid, outsideGid(102));
});

register('an owner the namespace does not map gives one warning and the file keeps root as owner', async () => {
  const result = await unpackInNamespace(
    gzip(
      await buildTar([
        { name: 'a', content: 'x', uid: 70000, gid: 70000 },
        { name: 'b', content: 'y', uid: 80000, gid: 80000 },
        { name: 'c', content: 'z', uid: 1000, gid: 1000 },
      ]),
    ),
  );
  assert.is(result.warnings.length, 1, result.warnings.join('\n'));
  assert.match(result.warnings[0]!, /^layer sha256:owned: a is owned by 70000:70000, which this user namespace does not map/);
  assert.is(statSync(join(area.dest, 'a')).uid, process.getuid!());
  assert.is(statSync(join(area.dest, 'b')).uid, process.getuid!());
  assert.is(statSync(join(area.dest, 'c')).uid, outsideUid(1000));
  assert.is(readFileSync(join(area.dest, 'b'), 'utf8'), 'y');
});

test.run();
