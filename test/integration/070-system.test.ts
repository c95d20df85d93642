// system df, prune, reset and migrate as the unprivileged user, against a
// real registry. migrate really changes the mapping: the store's subordinate
// ranges come from files named by TSBOX_SUBUID_FILE / TSBOX_SUBGID_FILE, all
// within what /etc/subuid grants tsboxtest (100000:65536), which newuidmap
// still checks.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { buildZstd, pushBusybox, pushLayered } from '../lib/fixtures.js';
import { pushLayout } from '../lib/oci-layout.js';
import { runTsbox, type RunResult } from '../lib/tsbox.js';
import { createTestStore, type TestStore } from '../lib/store.js';
import { runInUserNamespace } from '../../core/userns/helper.js';
import { dfSize } from '../../core/system/df.js';

interface Context {
  registry: TestRegistry;
  store: TestStore;
}

const test = suite<Context>('system');
const OWN_UID = process.getuid!();
const OWN_GID = process.getgid!();
const USER = process.env.USER ?? 'tsboxtest';

/** Writes the subordinate ranges tsbox reads (the same for uids and gids). */
function grant(context: Context, ...ranges: [number, number][]): void {
  const text = ranges.map(([start, count]) => `${USER}:${start}:${count}\n`).join('');
  writeFileSync(join(context.store.root, 'subuid'), text);
  writeFileSync(join(context.store.root, 'subgid'), text);
}

test.before(async (context) => {
  context.registry = await startRegistry();
  await pushBusybox(context.registry);
  await pushLayered(context.registry);
  context.store = createTestStore();
  context.store.useRegistry(context.registry.host, { mirrorDockerIo: true });
  context.store.env.TSBOX_SUBUID_FILE = join(context.store.root, 'subuid');
  context.store.env.TSBOX_SUBGID_FILE = join(context.store.root, 'subgid');
  grant(context, [100000, 65534]);
});

test.after(async (context) => {
  await tsbox(context, ['rm', '-f', '-a']).catch(() => {});
  await context.store?.cleanup();
  await context.registry?.stop();
});

function tsbox(context: Context, args: string[], input?: string): Promise<RunResult> {
  return runTsbox(args, { env: context.store.env, timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
}

async function ok(context: Context, args: string[]): Promise<string> {
  const r = await tsbox(context, args);
  assert.is(r.code, 0, `tsbox ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Summary {
  Type: string;
  Total: number;
  Active: number;
  RawSize: number;
  RawReclaimable: number;
  Size: string;
  Reclaimable: string;
}

async function df(context: Context): Promise<Record<string, Summary>> {
  const rows = JSON.parse(await ok(context, ['system', 'df', '--format', 'json'])) as Summary[];
  return Object.fromEntries(rows.map((r) => [r.Type, r]));
}

/** du's disk usage of the layer directories, measured inside the user namespace. */
async function layersDiskUsage(context: Context): Promise<number> {
  const layers = join(context.store.store, 'layers');
  const dirs = readdirSync(layers).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => join(layers, n));
  const r = await runInUserNamespace('du', ['-s', '-c', '-B1', ...dirs], { signal: AbortSignal.timeout(30_000) });
  assert.is(r.exitCode, 0, r.stderr);
  return Number(/^(\d+)\s+total$/m.exec(r.stdout)![1]);
}

const layeredFile = (context: Context, path: string) => {
  const image = context.store.images().find((i) => i.names.some((n) => n.endsWith('/layered:latest')))!;
  return join(context.store.layerDiff(image.layers[1]!), path);
};

test('df: an empty store, then images counted by their layers\' disk usage, each layer once', async (context) => {
  const empty = await ok(context, ['system', 'df']);
  assert.equal(empty.split('\n'), [
    'TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE',
    'Images         0           0           0B          0B (0%)',
    'Containers     0           0           0B          0B (0%)',
    'Local Volumes  0           0           0B          0B (0%)',
    '',
  ]);
  await ok(context, ['pull', '-q', 'busybox']);
  await ok(context, ['pull', '-q', `${context.registry.host}/layered`]);
  const summary = await df(context);
  // layered has a 0700 directory of a subordinate id: counted through the namespace
  assert.is(summary.Images!.RawSize, await layersDiskUsage(context));
  assert.is(summary.Images!.Total, 2);
  assert.is(summary.Images!.Active, 0);
  assert.is(summary.Images!.RawReclaimable, summary.Images!.RawSize);
  assert.match(summary.Images!.Reclaimable, / \(100%\)$/);

  const id = (await ok(context, ['run', '-d', '--network', 'none', '--name', 'sleeper', 'busybox', 'sleep', '600'])).trim();
  await ok(context, ['volume', 'create', 'data']);
  await ok(context, ['run', '--network', 'none', '--name', 'writer', '-v', 'data:/data', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /data/zeros']);
  const after = await df(context);
  assert.is(after.Images!.Active, 1, 'busybox has containers');
  assert.ok(after.Images!.RawReclaimable < after.Images!.RawSize);
  assert.is(after.Containers!.Total, 2);
  assert.is(after.Containers!.Active, 1);
  assert.ok(after.Containers!.RawReclaimable > 0, 'the exited writer\'s upper dir');
  assert.ok(after.Containers!.RawSize > after.Containers!.RawReclaimable, 'the running one counts in the size only');
  assert.is(after['Local Volumes']!.Total, 1);
  assert.is(after['Local Volumes']!.Active, 1, 'the exited writer still holds it');
  assert.ok(after['Local Volumes']!.RawSize >= 100_000);
  assert.is(after['Local Volumes']!.RawReclaimable, 0);

  const verbose = await ok(context, ['system', 'df', '-v']);
  assert.match(verbose, /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/);
  assert.match(verbose, /\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/);
  assert.match(verbose, new RegExp(`${id.slice(0, 12)} +[0-9a-f]{12} +sleep 600 +0 +[\\d.]+k?B +.* running +sleeper\n`));
  assert.match(verbose, /\nLocal Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\ndata +1 +1\d\d.\d*kB\n$/);
  assert.match(verbose, /docker.io\/library\/busybox +latest +[0-9a-f]{12} .* 2\n/);

  const template = await ok(context, ['system', 'df', '--format', '{{.Type}}\t{{.Total}}']);
  assert.is(template, 'Images\t2\nContainers\t2\nLocal Volumes\t1\n');
  const both = await tsbox(context, ['system', 'df', '-v', '--format', 'json']);
  assert.is(both.code, 125);
  assert.match(both.stderr, 'cannot combine --format and --verbose flags');
});

test('prune: refuses without a terminal, then removes stopped containers, unused images and volumes', async (context) => {
  const refused = await tsbox(context, ['system', 'prune'], '');
  assert.is(refused.code, 125);
  assert.match(refused.stderr, 'refusing to prune without confirmation: stdin is not a terminal (use --force');
  assert.is(refused.stdout, '');
  assert.is((await df(context)).Containers!.Total, 2, 'nothing removed');

  const writer = (await ok(context, ['inspect', '--format', '{{.Id}}', 'writer'])).trim();
  const layered = context.store.images().find((i) => i.names.some((n) => n.endsWith('/layered:latest')))!;
  // a dangling image: dangler:latest pulled, then pulled again once the tag names another image
  const zstd = await buildZstd();
  await pushLayout(zstd.dir, zstd.tag, context.registry, 'dangler', 'latest');
  await ok(context, ['pull', '-q', `${context.registry.host}/dangler`]);
  const dangling = context.store.images().find((i) => i.names.some((n) => n.endsWith('/dangler:latest')))!;
  await pushBusybox(context.registry, 'dangler', 'latest');
  await ok(context, ['pull', '-q', `${context.registry.host}/dangler`]);
  assert.equal(context.store.images().find((i) => i.id === dangling.id)!.names, []);

  // without -a: the dangling image only; the volume stays without --volumes
  const plain = await ok(context, ['system', 'prune', '-f']);
  assert.match(plain, new RegExp(`^Deleted Containers\n${writer}\nDeleted Images\n${dangling.id}\nTotal reclaimed space: [\\d.]+k?B\n$`));
  assert.is(context.store.images().length, 2);
  assert.is((await ok(context, ['volume', 'ls', '-q'])), 'data\n');

  const before = await df(context);
  assert.is(before['Local Volumes']!.Active, 0, 'the writer is gone');
  const all = await ok(context, ['system', 'prune', '-a', '-f', '--volumes']);
  assert.is(all, `Deleted Volumes\ndata\nDeleted Images\n${layered.id}\nTotal reclaimed space: ${dfSize(before['Images']!.RawReclaimable + before['Local Volumes']!.RawSize)}\n`);
  const remaining = context.store.images();
  assert.is(remaining.length, 1, 'busybox stays: the running container uses it');
  const layerDirs = readdirSync(join(context.store.store, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
  assert.equal(layerDirs.sort(), remaining[0]!.layers.map((l) => l.slice(7)).sort());
  assert.equal(context.store.leftovers(), []);
  const ps = await ok(context, ['ps', '-a', '--format', '{{.Names}}']);
  assert.is(ps, 'sleeper\n');
});

test('migrate: a range extended re-records only; a moved range re-owns every file by offset; a lost range changes nothing', async (context) => {
  await ok(context, ['pull', '-q', `${context.registry.host}/layered`]);
  const owner = (path: string) => {
    const st = lstatSync(layeredFile(context, path));
    return [st.uid, st.gid, st.mode & 0o7777];
  };
  // pulled with 100000:65534: inside id N is host 100000+N-1
  assert.equal(owner('data/owned-app'), [100999, 100999, 0o644]);
  const storage = join(context.store.store, 'storage.json');

  // extended: every recorded id keeps its host id
  grant(context, [100000, 65536]);
  const refused = await tsbox(context, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
  assert.is(refused.code, 125);
  assert.match(refused.stderr, 'the subordinate id ranges changed since the store was created');
  assert.match(refused.stderr, 'run tsbox system migrate');
  // listing and inspecting change nothing: they still answer before the migration
  assert.match(await ok(context, ['images', '--format', '{{.Repository}}']), /busybox/);
  assert.match(await ok(context, ['image', 'inspect', 'busybox']), /"RootFS"/);
  assert.match(await ok(context, ['system', 'migrate']), "The store's id ranges are all still granted and map the same ids: nothing to re-own; recorded the new mapping");
  assert.equal(owner('data/owned-app'), [100999, 100999, 0o644]);
  assert.match(await ok(context, ['system', 'migrate']), 'nothing to migrate');

  // moved: the same 65534 ids start at 100002, the first two host ids come last
  grant(context, [100002, 65534], [100000, 2]);
  const blocked = await tsbox(context, ['system', 'migrate']);
  assert.is(blocked.code, 125, 'sleeper runs');
  assert.match(blocked.stderr, "container sleeper is running: containers must be stopped before the store's files are re-owned");
  await ok(context, ['rm', '-f', 'sleeper']);
  const before = readFileSync(storage, 'utf8');
  const migrated = await ok(context, ['system', 'migrate']);
  assert.match(migrated, /^Re-owned \d+ files from uids 0:\d+:1,1:100000:65536 gids .* to uids 0:\d+:1,1:100002:65534,65535:100000:2 /);
  assert.is.not(readFileSync(storage, 'utf8'), before);
  // inside id N is now host 100002+N-1
  assert.equal(owner('data/owned-app'), [101001, 101001, 0o644]);
  assert.equal(owner('data/owned-odd'), [100002 + 1233, 100002 + 5677, 0o644]);
  assert.equal(owner('data/owned-nobody'), [100002 + 65533, 100002 + 65533, 0o644]);
  assert.equal(owner('data/setgid'), [OWN_UID, 101001, 0o2755], 'the setgid bit chown cleared is back');
  assert.equal(owner('data/setuid'), [OWN_UID, OWN_GID, 0o4755], 'root-owned: untouched');
  assert.equal(owner('data/private'), [101001, 101001, 0o700]);
  assert.equal(owner('data/hardlink-b'), [101001, 101001, 0o640], 'a hard link re-owned once, not twice');
  const inside = await ok(context, ['run', '--rm', '--network', 'none', `${context.registry.host}/layered`, 'stat', '-c', '%n %u:%g %a',
    '/data/owned-app', '/data/setgid', '/data/private/secret', '/data/owned-nobody', '/data/hardlink-a']);
  assert.is(inside, '/data/owned-app 1000:1000 644\n/data/setgid 0:1000 2755\n/data/private/secret 1000:1000 600\n/data/owned-nobody 65534:65534 644\n/data/hardlink-a 1000:1000 640\n');

  // lost: 100000..109999 are no longer granted; nothing may change
  grant(context, [110000, 55536]);
  const recorded = readFileSync(storage, 'utf8');
  const lost = await tsbox(context, ['system', 'migrate']);
  assert.is(lost.code, 125);
  assert.match(lost.stderr, `Error: the store's files belong to uids 100000-109999 and gids 100000-109999, which are no longer granted to ${USER}: only root can re-own them, nothing was changed`);
  assert.match(lost.stderr, `sudo usermod --add-subuids 100000-109999 --add-subgids 100000-109999 ${USER}`);
  assert.match(lost.stderr, 'tsbox system reset');
  assert.is(readFileSync(storage, 'utf8'), recorded);
  assert.equal(owner('data/owned-app'), [101001, 101001, 0o644]);

  grant(context, [100002, 65534], [100000, 2]);
  assert.match(await ok(context, ['system', 'migrate']), 'nothing to migrate');
});

test('reset: refuses without a terminal, then removes containers (running ones killed), images, volumes and the runtime dir', async (context) => {
  await ok(context, ['run', '-d', '--network', 'none', '--name', 'again', 'busybox', 'sleep', '600']);
  const pid = Number((await ok(context, ['inspect', '--format', '{{.State.Pid}}', 'again'])).trim());
  assert.ok(pid > 0);
  await ok(context, ['volume', 'create', 'kept']);
  const refused = await tsbox(context, ['system', 'reset'], '');
  assert.is(refused.code, 125);
  assert.match(refused.stderr, 'refusing to reset without confirmation');
  assert.ok(existsSync(join(context.store.store, 'storage.json')));

  assert.is(await ok(context, ['system', 'reset', '-f']), '');
  assert.not.ok(existsSync(context.store.store), 'the store is gone, storage.json with it');
  assert.not.ok(existsSync(join(context.store.env.XDG_RUNTIME_DIR!, 'tsbox')), 'the runtime dir is gone');
  assert.not.ok(existsSync(`/proc/${pid}`), 'the running container was killed');
  assert.is(await ok(context, ['ps', '-a', '-q']), '');
  assert.is(await ok(context, ['volume', 'ls', '-q']), '');
  // a fresh store, made with the mapping in force now
  await ok(context, ['pull', '-q', 'busybox']);
  assert.is(await ok(context, ['run', '--rm', '--network', 'none', 'busybox', 'echo', 'fresh']), 'fresh\n');
  const mapping = JSON.parse(readFileSync(join(context.store.store, 'storage.json'), 'utf8')).mapping;
  assert.equal(mapping.uids.slice(1), [
    { inside: 1, outside: 100002, count: 65534 },
    { inside: 65535, outside: 100000, count: 2 },
  ]);
});

test.run();
