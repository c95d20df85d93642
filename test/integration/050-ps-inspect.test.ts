// ps, inspect, top, port, rename and container prune on real detached
// containers (run -d, busybox from a test registry), as the unprivileged user.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readlinkSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { okIn as ok, startBusyboxStore, stopBusyboxStore, tsboxIn as tsbox, type BusyboxContext } from '../lib/busybox-suite.js';
import { waitFor } from '../lib/timeout.js';

type Context = BusyboxContext;

const test = suite<Context>('ps-inspect');

test.before(startBusyboxStore);
test.after(stopBusyboxStore);

async function runDetached(context: Context, args: string[]): Promise<string> {
  const network = args.includes('-p') ? [] : ['--network', 'none'];
  const id = (await ok(context, ['run', '-d', ...network, ...args])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  return id;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

test('three detached containers: ps, json, inspect, top, port, then an exit, rename and prune', async (context) => {
  const port = await freePort();
  const first = await runDetached(context, ['--name', 'first', 'busybox', 'sleep', '1000']);
  const second = await runDetached(context, ['--name', 'second', 'busybox', 'sleep', '1000']);
  const web = await runDetached(context, ['--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '1000']);

  // ps: the three, newest first, Up, the published port
  const ps = await ok(context, ['ps']);
  const lines = ps.trim().split('\n');
  assert.match(lines[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  assert.is(lines.length, 4, ps);
  assert.ok(lines[1]!.startsWith(`${web.slice(0, 12)}  docker.io/library/busybox:latest  sleep 1000  `), lines[1]);
  assert.match(lines[1]!, new RegExp(`Up (Less than a second|\\d+ seconds?)\\s+127\\.0\\.0\\.1:${port}->80/tcp\\s+web$`));
  assert.match(lines[2]!, /Up .*\s+second$/);
  assert.match(lines[3]!, /Up .*\s+first$/);
  assert.is(await ok(context, ['ps', '--format', '{{.Names}}']), 'web\nsecond\nfirst\n');

  const json = JSON.parse(await ok(context, ['ps', '--format', 'json'])) as { Id: string; Names: string[]; State: string; Pid: number; Ports: unknown[] }[];
  assert.equal(json.map((c) => c.Id), [web, second, first]);
  for (const c of json) {
    assert.is(c.State, 'running');
    assert.ok(c.Pid > 0);
  }
  assert.equal(json[0]!.Ports, [{ host_ip: '127.0.0.1', container_port: 80, host_port: port, range: 1, protocol: 'tcp' }]);

  // inspect: the state of the real process
  const [inspected] = JSON.parse(await ok(context, ['inspect', 'first'])) as { State: { Running: boolean; Pid: number; ExitCode: number; Status: string }; Name: string; Path: string; Args: string[] }[];
  assert.is(inspected!.Name, 'first');
  assert.is(inspected!.State.Status, 'running');
  assert.is(inspected!.State.Running, true);
  assert.is(inspected!.State.ExitCode, 0);
  assert.is(inspected!.Path, 'sleep');
  assert.equal(inspected!.Args, ['1000']);
  const pid = inspected!.State.Pid;
  assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\0'));
  assert.is(await ok(context, ['inspect', '--format', '{{.State.Running}} {{.State.Pid}}', 'first']), `true ${pid}\n`);

  // top: the sleep, as pid 1 of its namespace, user root (mapped back from the host's uid)
  const top = (await ok(context, ['top', 'first'])).trim().split('\n');
  assert.match(top[0]!, /^USER\s+PID\s+PPID\s+%CPU\s+ELAPSED\s+TTY\s+TIME\s+COMMAND$/);
  assert.is(top.length, 2, top.join('\n'));
  assert.match(top[1]!, /^root\s+1\s+0\s+\d+\.\d{3}\s+\S+s\s+\?\s+0s\s+sleep 1000$/);
  assert.is((await ok(context, ['top', 'first', 'hpid', 'pid', 'args'])).trim().split('\n')[1]!.replace(/\s+/g, ' '), `${pid} 1 sleep 1000`);
  // really another pid namespace than ours
  assert.is.not(readlinkSync(`/proc/${pid}/ns/pid`), readlinkSync('/proc/self/ns/pid'));

  // port
  assert.is(await ok(context, ['port', 'web']), `80/tcp -> 127.0.0.1:${port}\n`);
  assert.is(await ok(context, ['port', 'web', '80']), `127.0.0.1:${port}\n`);
  assert.is(await ok(context, ['port', 'first']), '');

  // one exits: ps without -a leaves it out, ps -a and inspect show its code
  const quick = await runDetached(context, ['--name', 'quick', 'busybox', 'sh', '-c', 'exit 3']);
  await waitFor(
    async () => ((await ok(context, ['ps', '-a', '--filter', 'name=quick', '--format', '{{.Status}}'])).startsWith('Exited (3)') ? true : undefined),
    20_000,
    'quick to exit',
    100,
  );
  assert.is(await ok(context, ['ps', '--format', '{{.Names}}']), 'web\nsecond\nfirst\n');
  assert.is(await ok(context, ['ps', '-a', '-q', '--no-trunc', '--filter', 'status=exited']), `${quick}\n`);
  assert.is(await ok(context, ['inspect', '--format', '{{.State.Running}} {{.State.ExitCode}} {{.State.Status}} {{.State.Pid}}', 'quick']), 'false 3 exited 0\n');
  const topExited = await tsbox(context, ['top', 'quick']);
  assert.is(topExited.code, 125);
  assert.is(topExited.stderr, 'Error: top can only be used on running containers\n');

  // rename a running container
  assert.is(await ok(context, ['rename', 'first', 'alpha']), '');
  assert.is(await ok(context, ['ps', '--format', '{{.Names}}', '--filter', `id=${first.slice(0, 8)}`]), 'alpha\n');
  assert.is((await tsbox(context, ['inspect', 'first'])).code, 125);

  // prune: the exited one goes, the running ones stay
  assert.is(await ok(context, ['container', 'prune', '-f']), `${quick}\n`);
  assert.is(await ok(context, ['ps', '-a', '--format', '{{.Names}}']), 'web\nsecond\nalpha\n');
  assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\0'));
});

test.run();
