// The image commands run as a user runs them, on a store this file fills
// through the store API (layers are real directories of real files, made
// here rather than pulled).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type ImageRecord, type ImageStore } from '../../core/store/index.js';
import { currentMapping } from '../../core/userns/mapping.js';
import { runTsbox, tempStore } from '../lib/tsbox.js';
import { addFakeImage } from '../unit/store/fixtures.js';

let temp: ReturnType<typeof tempStore>;
let store: ImageStore;
let alpine: ImageRecord;
let dangling: ImageRecord;

const tsbox = (...args: string[]) => runTsbox(args, { env: temp.env, timeoutMs: 30_000 });

test.before.each(async () => {
  temp = tempStore();
  const mapping = currentMapping();
  store = await openStore({ root: temp.env.TSBOX_ROOT!, mapping: { uids: mapping.uids, gids: mapping.gids } });
  alpine = await addFakeImage(store, {
    names: ['docker.io/library/alpine:latest', 'localhost/mine:1'],
    layers: ['a'.repeat(7799), 'b'],
    created: new Date(Date.now() - 2 * 3600_000).toISOString(),
    labels: { maintainer: 'tsbox' },
  });
  dangling = await addFakeImage(store, { layers: ['c'], created: '2020-01-01T00:00:00Z' });
});
test.after.each(() => temp.cleanup());

test('images prints podman table with one row per name and <none> for a dangling image', async () => {
  const r = await tsbox('images');
  assert.is(r.code, 0, r.stderr);
  const id = alpine.id.slice(0, 12);
  assert.is(
    r.stdout,
    [
      'REPOSITORY                TAG         IMAGE ID      CREATED      SIZE',
      `docker.io/library/alpine  latest      ${id}  2 hours ago  7.8 MB`,
      `localhost/mine            1           ${id}  2 hours ago  7.8 MB`,
      `<none>                    <none>      ${dangling.id.slice(0, 12)}  ${'6 years ago'.padEnd(11)}  2 kB`,
      '',
    ].join('\n').replace(/ +\n/g, '\n').replace('6 years ago', r.stdout.match(/\d+ years ago/)![0]),
  );
  const ls = await tsbox('image', 'ls');
  assert.is(ls.stdout, r.stdout);
});

test('images -q prints each id once, and --no-trunc the full ids', async () => {
  const r = await tsbox('images', '-q');
  assert.is(r.stdout, `${alpine.id.slice(0, 12)}\n${dangling.id.slice(0, 12)}\n`);
  const full = await tsbox('image', 'list', '-q', '--no-trunc');
  assert.is(full.stdout, `sha256:${alpine.id}\nsha256:${dangling.id}\n`);
});

test('images --format json gives podman fields', async () => {
  const r = await tsbox('images', '--format', 'json');
  assert.is(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.is(list.length, 2);
  const [a, d] = list as [Record<string, unknown>, Record<string, unknown>];
  assert.is(a.Id, alpine.id);
  assert.equal(a.RepoTags, ['docker.io/library/alpine:latest', 'localhost/mine:1']);
  assert.equal(a.RepoDigests, [`docker.io/library/alpine@${alpine.digest}`, `localhost/mine@${alpine.digest}`]);
  assert.is(a.Digest, alpine.digest);
  assert.is(a.Size, alpine.size);
  assert.is(a.Created, Math.floor(new Date(alpine.created).getTime() / 1000));
  assert.equal(a.Labels, { maintainer: 'tsbox' });
  assert.is(a.Dangling, false);
  assert.is(d.Dangling, true);
  assert.equal(d.Names, []);
});

test('images --format takes a Go template, with table headers and escapes', async () => {
  const r = await tsbox('images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}');
  const id = alpine.id.slice(0, 12);
  assert.is(r.stdout, `${id} docker.io/library/alpine:latest\n${id} localhost/mine:1\n${dangling.id.slice(0, 12)} <none>:<none>\n`);
  const t = await tsbox('images', '--format', 'table {{.Repository}}\\t{{.Size}}');
  assert.is(t.stdout.split('\n')[0], 'REPOSITORY                SIZE');
  assert.is(t.stdout.split('\n')[1], 'docker.io/library/alpine  7.8 MB');
  const bad = await tsbox('images', '--format', '{{.Nope}}');
  assert.is(bad.code, 125);
  assert.match(bad.stderr, "Error: template: can't evaluate field Nope");
});

test('image inspect prints the config, rootfs and names of an image', async () => {
  const r = await tsbox('image', 'inspect', 'alpine', dangling.id.slice(0, 6));
  assert.is(r.code, 0, r.stderr);
  const [a, d] = JSON.parse(r.stdout) as Record<string, any>[];
  assert.is(a!.Id, alpine.id);
  assert.is(a!.Digest, alpine.digest);
  assert.equal(a!.RepoTags, alpine.names);
  assert.is(a!.Architecture, 'amd64');
  assert.is(a!.Os, 'linux');
  assert.equal(a!.Config.Cmd, ['/bin/sh']);
  assert.equal(a!.Labels, { maintainer: 'tsbox' });
  assert.equal(a!.RootFS, { Type: 'layers', Layers: alpine.diffIds });
  assert.is(a!.History.length, 2);
  assert.is(a!.ManifestType, 'application/vnd.oci.image.manifest.v1+json');
  assert.is(d!.Id, dangling.id);
  const f = await tsbox('image', 'inspect', '--format', '{{.Id}} {{json .Config.Cmd}}', 'localhost/mine:1');
  assert.is(f.stdout, `${alpine.id} ["/bin/sh"]\n`);
});

test('an unknown image is an error worded like podman, exit 125', async () => {
  const r = await tsbox('image', 'inspect', 'nosuch');
  assert.is(r.code, 125);
  assert.is(r.stderr, 'Error: nosuch: image not known\n');
  assert.is(r.stdout, '[]\n');
  const t = await tsbox('tag', 'nosuch', 'x');
  assert.is(t.code, 125);
  assert.is(t.stderr, 'Error: nosuch: image not known\n');
});

test('tag adds normalised names and moves a name from another image', async () => {
  const r = await tsbox('tag', 'alpine', 'myapp', 'localhost/other:2');
  assert.is(r.code, 0, r.stderr);
  assert.equal((await store.readImage(alpine.id))!.names.sort(), [
    'docker.io/library/alpine:latest',
    'docker.io/library/myapp:latest',
    'localhost/mine:1',
    'localhost/other:2',
  ]);
  const move = await tsbox('tag', dangling.id.slice(0, 12), 'localhost/mine:1');
  assert.is(move.code, 0, move.stderr);
  assert.equal((await store.readImage(dangling.id))!.names, ['localhost/mine:1']);
  assert.not.ok((await store.readImage(alpine.id))!.names.includes('localhost/mine:1'));
  const bad = await tsbox('tag', 'alpine', 'Bad Name');
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /^Error: invalid reference format/, bad.stderr);
});

test('rmi by name untags while other names remain, and deletes with the last name', async () => {
  const untag = await tsbox('rmi', 'localhost/mine:1');
  assert.is(untag.code, 0, untag.stderr);
  assert.is(untag.stdout, 'Untagged: localhost/mine:1\n');
  assert.ok(await store.readImage(alpine.id));
  const last = await tsbox('image', 'rm', 'alpine');
  assert.is(last.code, 0, last.stderr);
  assert.is(last.stdout, `Untagged: docker.io/library/alpine:latest\nDeleted: ${alpine.id}\n`);
  assert.is(await store.readImage(alpine.id), undefined);
  // Its layers went with it; the dangling image's layer stays.
  assert.equal(await store.listLayers(), dangling.layers);
  assert.equal(readdirSync(join(store.root, 'tmp')), []);
});

test('rmi by id of an image with several names needs -f', async () => {
  const refused = await tsbox('rmi', alpine.id.slice(0, 12));
  assert.is(refused.code, 125);
  assert.match(refused.stderr, `unable to delete image "${alpine.id}" by ID with more than one tag`);
  assert.ok(await store.readImage(alpine.id));
  const forced = await tsbox('rmi', '-f', alpine.id.slice(0, 12));
  assert.is(forced.code, 0, forced.stderr);
  assert.is(forced.stdout, `Untagged: docker.io/library/alpine:latest\nUntagged: localhost/mine:1\nDeleted: ${alpine.id}\n`);
  for (const chainId of alpine.layers) assert.not.ok(existsSync(join(store.root, 'layers', chainId.slice(7))));
});

test('rmi of an unknown image exits 1 as podman does, and -a removes everything', async () => {
  const missing = await tsbox('rmi', 'nosuch');
  assert.is(missing.code, 1);
  assert.is(missing.stderr, 'Error: nosuch: image not known\n');
  const all = await tsbox('rmi', '-a');
  assert.is(all.code, 0, all.stderr);
  assert.equal(await store.listImages(), []);
  assert.equal(await store.listLayers(), []);
});

test.run();
