// ps, inspect, port, top, rename, container prune and rmi's container check,
// as a user runs them, on containers this file records directly in a temp
// store (ContainerStore.create + state.json): no kernel namespaces needed for
// the listing, formatting and filtering. A "running" container's monitor is a
// real live process of this test (a sleep), so the reconciler sees it alive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerStore, newContainerId } from '../../core/runtime/containers.js';
import { buildSpec, type ContainerRecord } from '../../core/runtime/spec.js';
import { initialState, processStartTime, writeState, type ContainerState } from '../../core/container/state.js';
import { goDuration, parseDescriptors, ttyName } from '../../core/container/top.js';
import { openStore } from '../../core/store/index.js';
import { currentMapping } from '../../core/userns/mapping.js';
import { runTsbox, tempStore } from '../lib/tsbox.js';
import { waitFor } from '../lib/timeout.js';
import { addFakeImage } from '../unit/store/fixtures.js';

let temp: ReturnType<typeof tempStore>;
let containers: ContainerStore;
let sleeper: ChildProcess;
const tsbox = (...args: string[]) => runTsbox(args, { env: temp.env, timeoutMs: 30_000 });

const IMAGE_ID = 'ab'.repeat(32);

interface Made {
  id: string;
  name: string;
}

/** Records a container made `ageSeconds` ago, with the given state. */
async function make(name: string, ageSeconds: number, state: Partial<ContainerState>, options: { ports?: string[]; command?: string[]; image?: string } = {}): Promise<Made> {
  const id = newContainerId();
  const spec = buildSpec(
    { config: { Cmd: ['sleep', '1000'] }, rootfs: { type: 'layers', diff_ids: [] } },
    { id, command: options.command ?? [], layers: ['l'.repeat(64)], network: { mode: 'slirp4netns', ports: options.ports ?? [] } },
  );
  const record: ContainerRecord = {
    Id: id,
    Name: name,
    Image: options.image ?? IMAGE_ID,
    ImageName: 'docker.io/library/busybox:latest',
    Created: new Date(Date.now() - ageSeconds * 1000).toISOString(),
    State: 'created',
    Spec: spec,
  };
  await containers.create(record);
  await writeState(containers, id, { ...initialState(), ...state });
  return { id, name };
}

/** A state that the reconciler takes as running: its monitor is a live process of this test. */
function running(startedSecondsAgo: number, extra: Partial<ContainerState> = {}): Partial<ContainerState> {
  return {
    Status: 'running',
    Pid: sleeper.pid!,
    MonitorPid: sleeper.pid!,
    MonitorStart: processStartTime(sleeper.pid!)!,
    BootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    StartedAt: new Date(Date.now() - startedSecondsAgo * 1000).toISOString(),
    ...extra,
  };
}

function exited(code: number, secondsAgo: number): Partial<ContainerState> {
  const at = new Date(Date.now() - secondsAgo * 1000).toISOString();
  return { Status: 'exited', ExitCode: code, StartedAt: at, FinishedAt: at };
}

let web: Made;
let db: Made;
let done: Made;
let fresh: Made;

test.before.each(async () => {
  temp = tempStore();
  containers = new ContainerStore(temp.env.TSBOX_ROOT!);
  sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  await waitFor(() => (sleeper.pid && processStartTime(sleeper.pid) ? true : undefined), 5000, 'the sleep to start');
  // oldest first: done (exited), web (running, port 80 published on 40001), db (running), fresh (created);
  // ages in hours and minutes, so that the humanized times hold on a slow machine
  done = await make('done', 4 * 3600, exited(3, 2 * 3600), { command: ['sh', '-c', 'exit 3; echo a long command line'] });
  web = await make('web', 3 * 3600, running(2 * 3600, { Network: { backend: 'slirp4netns', pid: 0, start: '', ports: [{ hostIp: '', hostPort: 40001, containerPort: 80, range: 1, protocol: 'tcp' }] } }), {
    ports: ['80'],
  });
  db = await make('db', 2 * 3600, running(30 * 60));
  fresh = await make('fresh', 10 * 60, {}, { ports: ['127.0.0.1:5353:53/udp'] });
});

test.after.each(() => {
  sleeper.kill('SIGKILL');
  temp.cleanup();
});

test('ps: podman columns, running containers only, newest first', async () => {
  const r = await tsbox('ps');
  assert.is(r.code, 0, r.stderr);
  assert.is(
    r.stdout,
    [
      'CONTAINER ID  IMAGE                             COMMAND     CREATED      STATUS         PORTS                  NAMES',
      `${db.id.slice(0, 12)}  docker.io/library/busybox:latest  sleep 1000  2 hours ago  Up 30 minutes                         db`,
      `${web.id.slice(0, 12)}  docker.io/library/busybox:latest  sleep 1000  3 hours ago  Up 2 hours     0.0.0.0:40001->80/tcp  web`,
      '',
    ].join('\n'),
  );
  const ls = await tsbox('container', 'ls');
  assert.is(ls.stdout, r.stdout);
});

test('ps -a: exited, created, and a running container whose monitor died shows as exited', async () => {
  const ghost = await make('ghost', 60, { ...running(2), MonitorPid: 999_999_999, MonitorStart: '1' });
  const r = await tsbox('ps', '-a');
  assert.is(r.code, 0, r.stderr);
  const names = r.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/).pop());
  assert.equal(names, ['ghost', 'fresh', 'db', 'web', 'done']);
  assert.match(r.stdout, /Exited \(-1\) Less than a second ago\s+ghost\n/);
  assert.match(r.stdout, /Created\s+127\.0\.0\.1:5353->53\/udp\s+fresh\n/);
  assert.match(r.stdout, /sh -c exit 3; ech\.\.\.\s+4 hours ago\s+Exited \(3\) 2 hours ago\s+done\n/);
  // the reconciled exit is recorded
  const state = JSON.parse(readFileSync(join(containers.paths(ghost.id).dir, 'state.json'), 'utf8')) as ContainerState;
  assert.is(state.Status, 'exited');
  assert.is(state.ExitCode, -1);
});

test('ps -q, --no-trunc, -n and -l', async () => {
  assert.is((await tsbox('ps', '-q')).stdout, `${db.id.slice(0, 12)}\n${web.id.slice(0, 12)}\n`);
  assert.is((await tsbox('ps', '-aq', '--no-trunc')).stdout, [fresh, db, web, done].map((c) => `${c.id}\n`).join(''));
  assert.is((await tsbox('ps', '-q', '-n', '2')).stdout, [fresh, db].map((c) => `${c.id.slice(0, 12)}\n`).join(''));
  assert.is((await tsbox('ps', '-q', '--last', '2')).stdout, [fresh, db].map((c) => `${c.id.slice(0, 12)}\n`).join(''));
  assert.is((await tsbox('ps', '-ql')).stdout, `${fresh.id.slice(0, 12)}\n`);
  const full = await tsbox('ps', '-a', '--no-trunc', '--filter', 'name=done');
  assert.match(full.stdout, new RegExp(`${done.id}  .*sh -c exit 3; echo a long command line`));
  const bad = await tsbox('ps', '-n', 'x');
  assert.is(bad.code, 125);
});

test('ps --filter: same key ORed, different keys ANDed; name is a regex, id a prefix; status implies -a', async () => {
  const q = async (...filters: string[]) => {
    const r = await tsbox('ps', '-q', '--no-trunc', ...filters.flatMap((f) => ['--filter', f]));
    assert.is(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter((l) => l !== '');
  };
  assert.equal(await q('status=exited'), [done.id]);
  assert.equal(await q('status=exited', 'status=created'), [fresh.id, done.id]);
  assert.equal(await q('name=^w'), [web.id]);
  assert.equal(await q('name=web', 'name=db'), [db.id, web.id]);
  assert.equal(await q('name=e', 'status=created'), [fresh.id]);
  assert.equal(await q(`id=${web.id.slice(0, 5)}`), [web.id]);
  assert.equal(await q('ancestor=busybox'), [db.id, web.id]);
  assert.equal(await q(`ancestor=${IMAGE_ID.slice(0, 8)}`), [db.id, web.id]);
  assert.equal(await q('ancestor=alpine'), []);
  assert.equal(await q('status=exited', 'exited=3'), [done.id]);
  assert.equal(await q('label=app'), []);
  const status = await tsbox('ps', '--filter', 'status=sleeping');
  assert.is(status.code, 125);
  assert.match(status.stderr, /^Error: "sleeping" is not a valid status/);
  const key = await tsbox('ps', '--filter', 'colour=red');
  assert.is(key.code, 125);
  assert.match(key.stderr, /^Error: "colour" is an invalid filter/);
});

test('ps --format: Go templates, table headers, json as podman', async () => {
  assert.is((await tsbox('ps', '--format', '{{.Names}}')).stdout, 'db\nweb\n');
  assert.is((await tsbox('ps', '-a', '--format', '{{.Names}} {{.State}}', '--filter', 'name=done')).stdout, 'done Exited (3) 2 hours ago\n');
  const table = await tsbox('ps', '--format', 'table {{.Names}}\t{{.Ports}}');
  assert.is(table.stdout, 'NAMES       PORTS\ndb\nweb         0.0.0.0:40001->80/tcp\n');
  const r = await tsbox('ps', '-a', '--format', 'json');
  assert.is(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.equal(list.map((c) => (c.Names as string[])[0]), ['fresh', 'db', 'web', 'done']);
  const w = list[2]!;
  for (const key of ['Id', 'Names', 'Image', 'ImageID', 'Command', 'Created', 'CreatedAt', 'State', 'Status', 'Exited', 'ExitCode', 'ExitedAt', 'StartedAt', 'Pid', 'Ports', 'Labels', 'Mounts', 'AutoRemove', 'IsInfra', 'Namespaces']) {
    assert.ok(key in w, key);
  }
  assert.is(w.Id, web.id);
  assert.is(w.Image, 'docker.io/library/busybox:latest');
  assert.is(w.ImageID, IMAGE_ID);
  assert.equal(w.Command, ['sleep', '1000']);
  assert.is(w.State, 'running');
  assert.is(w.Exited, false);
  assert.is(w.Pid, sleeper.pid);
  assert.is(w.IsInfra, false);
  assert.equal(w.Namespaces, {});
  assert.is(w.Created, Math.floor(Date.parse((await containers.read(web.id))!.Created) / 1000));
  assert.ok(Math.abs((w.StartedAt as number) - (Date.now() / 1000 - 2 * 3600)) < 120, String(w.StartedAt));
  assert.equal(w.Ports, [{ host_ip: '', container_port: 80, host_port: 40001, range: 1, protocol: 'tcp' }]);
  const d = list[3]!;
  assert.is(d.State, 'exited');
  assert.is(d.Exited, true);
  assert.is(d.ExitCode, 3);
  assert.ok(Math.abs((d.ExitedAt as number) - (Date.now() / 1000 - 2 * 3600)) < 120, String(d.ExitedAt));
  assert.is(list[0]!.StartedAt, -62135596800);
});

test('inspect: podman fields; templates; a container before an image or a volume; podman errors', async () => {
  const r = await tsbox('inspect', 'web');
  assert.is(r.code, 0, r.stderr);
  const [c] = JSON.parse(r.stdout) as Record<string, any>[];
  assert.is(c!.Id, web.id);
  assert.is(c!.Name, 'web');
  assert.is(c!.Path, 'sleep');
  assert.equal(c!.Args, ['1000']);
  assert.is(c!.State.Status, 'running');
  assert.is(c!.State.Running, true);
  assert.is(c!.State.Pid, sleeper.pid);
  assert.is(c!.Image, IMAGE_ID);
  assert.is(c!.ImageName, 'docker.io/library/busybox:latest');
  assert.is(c!.Driver, 'overlay');
  assert.is(c!.IsInfra, false);
  assert.is(c!.MountLabel, '');
  assert.is(c!.LogPath, join(containers.paths(web.id).userdata, 'ctr.log'));
  assert.equal(c!.Mounts, []);
  assert.equal(c!.Config.Cmd, ['sleep', '1000']);
  assert.is(c!.Config.Hostname, web.id.slice(0, 12));
  assert.is(c!.HostConfig.NetworkMode, 'slirp4netns');
  assert.equal(c!.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '' }] });
  assert.equal(c!.NetworkSettings.Ports, { '80/tcp': [{ HostIp: '', HostPort: '40001' }] });
  assert.equal(c!.HostConfig.SecurityOpt, []);
  assert.is(c!.HostConfig.Privileged, false);

  const d = await tsbox('container', 'inspect', '--format', '{{.State.Running}} {{.State.ExitCode}} {{.State.Status}}', 'done', 'web');
  assert.is(d.stdout, 'false 3 exited\ntrue 0 running\n');
  const latest = await tsbox('container', 'inspect', '-l', '--format', '{{.Name}}');
  assert.is(latest.stdout, 'fresh\n');
  const prefix = await tsbox('inspect', '--format', '{{.Name}}', db.id.slice(0, 10));
  assert.is(prefix.stdout, 'db\n');

  await tsbox('volume', 'create', 'data');
  const vol = await tsbox('inspect', '--format', '{{.Name}} {{.Driver}}', 'data');
  assert.is(vol.code, 0, vol.stderr);
  assert.is(vol.stdout, 'data local\n');
  const missing = await tsbox('inspect', 'nope');
  assert.is(missing.code, 125);
  assert.is(missing.stderr, 'Error: no such object: "nope"\n');
  assert.equal(JSON.parse(missing.stdout), []);
  const ctr = await tsbox('container', 'inspect', 'web', 'data');
  assert.is(ctr.code, 125);
  assert.is(ctr.stderr, 'Error: no such container data\n');
  assert.is((JSON.parse(ctr.stdout) as unknown[]).length, 1);
});

test('port: assigned host ports of a running container, one port, -a; nothing for one that is not running', async () => {
  const all = await tsbox('port', 'web');
  assert.is(all.code, 0, all.stderr);
  assert.is(all.stdout, '80/tcp -> 0.0.0.0:40001\n');
  assert.is((await tsbox('port', 'web', '80')).stdout, '0.0.0.0:40001\n');
  assert.is((await tsbox('port', 'web', '80/tcp')).stdout, '0.0.0.0:40001\n');
  const none = await tsbox('port', 'web', '80/udp');
  assert.is(none.code, 125);
  assert.is(none.stderr, 'Error: failed to find published port "80/udp"\n');
  assert.is((await tsbox('port', '-a')).stdout, `${web.id.slice(0, 12)}\t80/tcp -> 0.0.0.0:40001\n`);
  assert.is((await tsbox('port', 'fresh')).stdout, '');
  const bad = await tsbox('port', 'nope');
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /no container with name or ID "nope" found/);
});

test('top: only running containers; descriptors as psgo names them', async () => {
  const r = await tsbox('top', 'done');
  assert.is(r.code, 125);
  assert.is(r.stderr, 'Error: top can only be used on running containers\n');
  assert.equal(parseDescriptors([]), ['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args']);
  assert.equal(parseDescriptors(['pid,user', 'args']), ['pid', 'user', 'args']);
  assert.throws(() => parseDescriptors(['-ef']), /unknown descriptor: -ef/);
  assert.is(ttyName(0), '?');
  assert.is(ttyName((136 << 8) | 3), 'pts/3');
  assert.is(ttyName((4 << 8) | 1), 'tty1');
  assert.is(goDuration(0), '0s');
  assert.is(goDuration(5.12), '5.12s');
  assert.is(goDuration(65.5), '1m5.5s');
  assert.is(goDuration(3723), '1h2m3s');
  assert.is(goDuration(0.25), '250ms');
});

test('rename: the new name lists and resolves, the old one is free; podman errors', async () => {
  const r = await tsbox('rename', 'web', 'site');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  assert.is((await tsbox('ps', '--format', '{{.Names}}')).stdout, 'db\nsite\n');
  assert.is((await tsbox('inspect', '--format', '{{.Id}}', 'site')).stdout, `${web.id}\n`);
  assert.ok(!existsSync(join(containers.dir, 'names', 'web')));
  assert.is((await containers.read(web.id))!.Name, 'site');
  const taken = await tsbox('rename', 'site', 'db');
  assert.is(taken.code, 125);
  assert.match(taken.stderr, /^Error: the container name "db" is already in use by [0-9a-f]{64}\./);
  const invalid = await tsbox('rename', 'site', 'no/slash');
  assert.is(invalid.code, 125);
  assert.match(invalid.stderr, /^Error: invalid container name "no\/slash"/);
  const missing = await tsbox('rename', 'nope', 'x');
  assert.is(missing.code, 125);
  // the old name can be taken again
  await make('web', 1, {});
});

test('container prune: removes exited and created containers, keeps running ones; refuses without -f off a terminal', async () => {
  const refused = await tsbox('container', 'prune');
  assert.is(refused.code, 125);
  assert.match(refused.stderr, /^Error: refusing to prune containers without confirmation: stdin is not a terminal/);
  assert.ok(existsSync(containers.paths(done.id).dir));
  const r = await tsbox('container', 'prune', '-f');
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').sort(), [fresh.id, done.id].sort());
  assert.ok(!existsSync(containers.paths(done.id).dir));
  assert.ok(!existsSync(containers.paths(fresh.id).dir));
  assert.ok(!existsSync(join(containers.dir, 'names', 'done')));
  assert.is((await tsbox('ps', '-a', '--format', '{{.Names}}')).stdout, 'db\nweb\n');
});

test('rmi: an image containers were made from is refused (exit 2); --force removes its stopped containers, refuses a running one', async () => {
  const mapping = currentMapping();
  const store = await openStore({ root: temp.env.TSBOX_ROOT!, mapping: { uids: mapping.uids, gids: mapping.gids } });
  const used = await addFakeImage(store, { names: ['localhost/used:1'], layers: ['u'] });
  const busy = await addFakeImage(store, { names: ['localhost/busy:1'], layers: ['b'] });
  const stopped = await make('stopped', 20, exited(0, 10), { image: used.id });
  await make('busy', 20, running(5), { image: busy.id });

  const r = await tsbox('rmi', 'localhost/used:1');
  assert.is(r.code, 2);
  assert.is(r.stderr, `Error: image used by ${stopped.id}: image is in use by a container: consider listing external containers and force-removing image\n`);
  assert.ok(await store.readImage(used.id));

  const forced = await tsbox('rmi', '-f', 'localhost/used:1');
  assert.is(forced.code, 0, forced.stderr);
  assert.is(forced.stdout, `Untagged: localhost/used:1\nDeleted: ${used.id}\n`);
  assert.ok(!existsSync(containers.paths(stopped.id).dir));

  const refused = await tsbox('rmi', '-f', 'localhost/busy:1');
  assert.is(refused.code, 2);
  assert.match(refused.stderr, /image is in use by a running container/);
  assert.ok(await store.readImage(busy.id));
});

test.run();
