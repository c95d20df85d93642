// The volume commands run as a user runs them, each test on a fresh store.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTsbox, tempStore } from '../lib/tsbox.js';

let temp: ReturnType<typeof tempStore>;
const tsbox = (args: string[], input?: string) => runTsbox(args, { env: temp.env, timeoutMs: 30_000, input });
const volumesDir = () => join(temp.env.TSBOX_ROOT!, 'volumes');

test.before.each(() => {
  temp = tempStore();
});
test.after.each(() => temp.cleanup());

test('volume create prints the name; ls shows podman table; a random name is 64 hex digits', async () => {
  const r = await tsbox(['volume', 'create', 'data']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'data\n');
  assert.ok(existsSync(join(volumesDir(), 'data', '_data')));
  const anon = await tsbox(['volume', 'create']);
  assert.is(anon.code, 0, anon.stderr);
  assert.match(anon.stdout, /^[0-9a-f]{64}\n$/);
  const ls = await tsbox(['volume', 'ls']);
  assert.is(ls.code, 0, ls.stderr);
  const names = ['data', anon.stdout.trim()].sort();
  assert.is(ls.stdout, `DRIVER      VOLUME NAME\n${names.map((n) => `local       ${n}\n`).join('')}`);
  const list = await tsbox(['volume', 'list', '-q']);
  assert.is(list.stdout, names.map((n) => `${n}\n`).join(''));
  const none = await tsbox(['volume', 'ls', '--noheading']);
  assert.is(none.stdout, names.map((n) => `local       ${n}\n`).join(''));
});

test('volume create of an existing name fails with 125, and --ignore prints it again', async () => {
  await tsbox(['volume', 'create', 'v1']);
  const r = await tsbox(['volume', 'create', 'v1']);
  assert.is(r.code, 125);
  assert.is(r.stderr, 'Error: volume with name v1 already exists: volume already exists\n');
  assert.is(r.stdout, '');
  const again = await tsbox(['volume', 'create', '--ignore', 'v1']);
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout, 'v1\n');
});

test('volume create refuses a bad name with podman wording, exit 125', async () => {
  for (const name of ['-bad', 'a/b', '.hidden']) {
    const r = await tsbox(['volume', 'create', '--', name]);
    assert.is(r.code, 125, name);
    assert.is(r.stderr, 'Error: running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument\n', name);
  }
  assert.is(existsSync(volumesDir()) ? readdirSync(volumesDir()).filter((n) => !n.startsWith('.lock')).length : 0, 0);
});

test('volume inspect prints podman fields with labels; --format a template', async () => {
  await tsbox(['volume', 'create', '-l', 'app=db', '-l', 'flag', 'data']);
  const r = await tsbox(['volume', 'inspect', 'data']);
  assert.is(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.is(list.length, 1);
  const v = list[0]!;
  assert.equal(Object.keys(v), ['Name', 'Driver', 'Mountpoint', 'CreatedAt', 'Labels', 'Scope', 'Options']);
  assert.is(v.Name, 'data');
  assert.is(v.Driver, 'local');
  assert.is(v.Scope, 'local');
  assert.is(v.Mountpoint, join(volumesDir(), 'data', '_data'));
  assert.equal(v.Labels, { app: 'db', flag: '' });
  assert.equal(v.Options, {});
  assert.ok(Math.abs(Date.parse(v.CreatedAt as string) - Date.now()) < 60_000);
  const f = await tsbox(['volume', 'inspect', '--format', '{{.Name}} {{.Mountpoint}}', 'data']);
  assert.is(f.stdout, `data ${join(volumesDir(), 'data', '_data')}\n`);
});

test('volume inspect of a missing volume: what it found on stdout, the error, exit 125', async () => {
  await tsbox(['volume', 'create', 'here']);
  const r = await tsbox(['volume', 'inspect', 'here', 'nope', 'nada']);
  assert.is(r.code, 125);
  assert.equal((JSON.parse(r.stdout) as { Name: string }[]).map((v) => v.Name), ['here']);
  assert.is(r.stderr, 'error inspecting object: no such volume nada\nError: inspecting object: no such volume nope\n');
});

test('volume ls --filter and --format json', async () => {
  await tsbox(['volume', 'create', '-l', 'app=db', 'db1']);
  await tsbox(['volume', 'create', '-l', 'app=web', 'web1']);
  await tsbox(['volume', 'create', 'other']);
  const q = async (...args: string[]) => (await tsbox(['volume', 'ls', '-q', ...args])).stdout.trim().split('\n').filter(Boolean);
  assert.equal(await q('--filter', 'name=1$'), ['db1', 'web1']);
  assert.equal(await q('--filter', 'label=app'), ['db1', 'web1']);
  assert.equal(await q('--filter', 'label=app=db'), ['db1']);
  assert.equal(await q('--filter', 'label=app=db', '--filter', 'label=app=web'), ['db1', 'web1']);
  assert.equal(await q('--filter', 'label=app', '--filter', 'name=^w'), ['web1']);
  assert.equal(await q('--filter', 'dangling=true'), ['db1', 'other', 'web1']);
  const bad = await tsbox(['volume', 'ls', '--filter', 'colour=red']);
  assert.is(bad.code, 125);
  assert.is(bad.stderr, 'Error: "colour" is an invalid volume filter\n');
  const json = await tsbox(['volume', 'ls', '--format', 'json', '--filter', 'name=db1']);
  const list = JSON.parse(json.stdout) as Record<string, unknown>[];
  assert.equal(list.map((v) => [v.Name, v.Driver, v.Labels]), [['db1', 'local', { app: 'db' }]]);
  const table = await tsbox(['volume', 'ls', '--format', 'table {{.Name}}\\t{{.Driver}}', '--filter', 'name=other']);
  assert.is(table.stdout, 'VOLUME NAME  DRIVER\nother        local\n');
});

test('volume rm prints each name; a missing one exits 1 after removing the others', async () => {
  await tsbox(['volume', 'create', 'a']);
  await tsbox(['volume', 'create', 'b']);
  const r = await tsbox(['volume', 'rm', 'a', 'missing', 'b']);
  assert.is(r.code, 1);
  assert.is(r.stdout, 'a\nb\n');
  assert.is(r.stderr, 'Error: no volume with name "missing" found: no such volume\n');
  assert.is((await tsbox(['volume', 'ls', '-q'])).stdout, '');
  const none = await tsbox(['volume', 'rm']);
  assert.is(none.code, 125);
  assert.is(none.stderr, 'Error: choose either one or more volumes or all\n');
});

test('volume rm removes data a container left unwritable (removed inside the user namespace)', async () => {
  await tsbox(['volume', 'create', 'held']);
  const data = join(volumesDir(), 'held', '_data');
  const { mkdirSync, chmodSync } = await import('node:fs');
  mkdirSync(join(data, 'dir'));
  writeFileSync(join(data, 'dir', 'f'), 'x');
  chmodSync(join(data, 'dir'), 0o500);
  const r = await tsbox(['volume', 'rm', '-f', 'held']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'held\n');
  assert.is(existsSync(join(volumesDir(), 'held')), false);
});

test('volume prune asks first, does nothing on no, removes all unused on yes or with -f', async () => {
  await tsbox(['volume', 'create', 'p1']);
  await tsbox(['volume', 'create', 'p2']);
  const no = await tsbox(['volume', 'prune'], 'n\n');
  assert.is(no.code, 0, no.stderr);
  assert.is(
    no.stdout,
    'WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\np1\np2\nAre you sure you want to continue? [y/N] ',
  );
  assert.is((await tsbox(['volume', 'ls', '-q'])).stdout, 'p1\np2\n');
  const yes = await tsbox(['volume', 'prune'], 'y\n');
  assert.ok(yes.stdout.endsWith('[y/N] p1\np2\n'), yes.stdout);
  assert.is((await tsbox(['volume', 'ls', '-q'])).stdout, '');
  await tsbox(['volume', 'create', 'p3']);
  const forced = await tsbox(['volume', 'prune', '-f']);
  assert.is(forced.stdout, 'p3\n');
  const empty = await tsbox(['volume', 'prune', '-f']);
  assert.is(empty.code, 0);
  assert.is(empty.stdout, '');
});

test.run();
