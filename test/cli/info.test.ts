// `tsbox info` run as a user runs it, on a private store, checked against
// what this test finds on the host by itself; and the parsers behind it on
// the cgroup layouts and kernel switches other hosts have.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../core/store/index.js';
import { currentMapping } from '../../core/userns/mapping.js';
import { goArch, nativeOverlayInUserns, parseCgroups, parseOsRelease, usernsSwitches, type Info } from '../../core/host/info.js';
import { toYaml } from '../../cli/commands/info.js';
import { HELPER_BIN, REPO_ROOT, runTsbox, tempStore } from '../lib/tsbox.js';
import { addFakeImage } from '../unit/store/fixtures.js';

let temp: ReturnType<typeof tempStore>;

test.before.each(() => {
  temp = tempStore();
  mkdirSync(temp.env.XDG_RUNTIME_DIR!, { mode: 0o700 });
});
test.after.each(() => temp.cleanup());

const tsbox = (args: string[], env: NodeJS.ProcessEnv = {}) => runTsbox(args, { env: { ...temp.env, ...env }, timeoutMs: 30_000 });

async function infoJson(env: NodeJS.ProcessEnv = {}): Promise<Info> {
  const r = await tsbox(['info', '--format', 'json'], env);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Info;
}

test('info --format json: the host as this test sees it, the store counts and the versions', async () => {
  const mapping = currentMapping();
  const store = await openStore({ root: temp.env.TSBOX_ROOT!, mapping: { uids: mapping.uids, gids: mapping.gids } });
  await addFakeImage(store, { names: ['localhost/one:1'], layers: ['a'] });
  await addFakeImage(store, { names: ['localhost/two:1'], layers: ['b'] });
  // a container is a directory with a config.json in the container store
  const containerDir = join(temp.env.TSBOX_ROOT!, 'containers', 'c'.repeat(64));
  mkdirSync(containerDir, { recursive: true });
  writeFileSync(join(containerDir, 'config.json'), JSON.stringify({ Id: 'c'.repeat(64), Name: 'x' }));

  const info = await infoJson();
  assert.is(info.host.kernel, release());
  assert.is(info.host.os, 'linux');
  assert.is(info.host.arch, goArch());
  assert.is(info.host.distribution.distribution, parseOsRelease(readFileSync('/etc/os-release', 'utf8')).distribution);
  // /sys/fs/cgroup is the v2 hierarchy itself exactly when cgroup v2 is unified
  assert.is(info.host.cgroupVersion, existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : 'v1');
  const toMap = (r: { inside: number; outside: number; count: number }) => ({ container_id: r.inside, host_id: r.outside, size: r.count });
  assert.equal(info.host.idMappings.uidmap, mapping.uids.map(toMap));
  assert.equal(info.host.idMappings.gidmap, mapping.gids.map(toMap));
  assert.is(info.host.security.rootless, process.getuid!() !== 0);
  assert.is(info.host.security.seccompEnabled, existsSync('/proc/sys/kernel/seccomp/actions_avail'));

  assert.is(info.store.graphRoot, temp.env.TSBOX_ROOT);
  assert.is(info.store.imageStore.number, 2);
  assert.is(info.store.containerStore.number, 1);
  assert.is(info.store.runRoot, join(temp.env.XDG_RUNTIME_DIR!, 'tsbox'));
  assert.equal(info.host.runtimeDir, { path: temp.env.XDG_RUNTIME_DIR, fallback: false });

  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.is(info.version.Version, pkg.version);
  assert.is(`tsbox-helper version ${info.version.HelperVersion}\n`, execFileSync(HELPER_BIN, ['--version'], { encoding: 'utf8' }));
  assert.ok(Array.isArray(info.hints));
  assert.not.ok(info.hints.some((h) => /XDG_RUNTIME_DIR/.test(h)), 'no runtime dir hint when it is set and ours');
});

test('info prints podman-style YAML: sections, nested maps, sequences and the hints', async () => {
  const r = await tsbox(['info']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^host:\n {2}arch: \S+\n/);
  assert.match(r.stdout, new RegExp(`\n {2}kernel: ${release().replace(/\./g, '\\.')}\n`));
  assert.match(r.stdout, /\n {2}idMappings:\n {4}gidmap:\n {4}- container_id: 0\n {6}host_id: \d+\n {6}size: \d+\n/);
  assert.match(r.stdout, /\nstore:\n/);
  assert.match(r.stdout, new RegExp(`\n {2}graphRoot: ${temp.env.TSBOX_ROOT}\n`));
  assert.match(r.stdout, /\nversion:\n {2}Version: \d+\.\d+\.\d+\n/);
  assert.match(r.stdout, /\nhints: \[\]\n$|\nhints:\n(- ".*"\n)+$/);
  assert.is(r.stderr, '');
});

test('info --format templates take podman field names (and the JSON names capitalized)', async () => {
  const r = await tsbox(['info', '--format', '{{.Host.OS}} {{.Host.Os}} {{.Host.Kernel}} {{.Store.ImageStore.Number}} {{.Version.Version}} {{.Host.Security.Rootless}}']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `linux linux ${release()} 0 ${JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version} ${process.getuid!() !== 0}\n`);
  const groups = await tsbox(['info', '--format', '{{.Host.CgroupsVersion}}/{{.Host.CgroupVersion}}']);
  assert.match(groups.stdout, /^(v1\/v1|v2\/v2)\n$/);
  const bad = await tsbox(['info', '--format', '{{.Host.Nope}}']);
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /^Error: template: can't evaluate field Host\.Nope/);
});

test('info names each missing piece with its fix: no runtime dir, no network backend', async () => {
  const info = await infoJson({ XDG_RUNTIME_DIR: '', PATH: '/nonexistent' });
  assert.is(info.host.runtimeDir.fallback, true);
  assert.is(info.host.runtimeDir.path, `/tmp/tsbox-run-${process.getuid!()}`);
  assert.ok(
    info.hints.some((h) => /^XDG_RUNTIME_DIR is not set: using \/tmp\/tsbox-run-\d+; .*loginctl enable-linger /.test(h)),
    info.hints.join('\n'),
  );
  assert.is(info.host.rootlessNetworkCmd, '');
  assert.is(info.host.pasta, undefined);
  assert.is(info.host.slirp4netns, undefined);
  assert.ok(info.hints.some((h) => /no rootless network backend.*apt-get install passt/.test(h)), info.hints.join('\n'));
  for (const hint of info.hints) assert.not.match(hint, /\n/, 'each hint is one line');
});

// The parsers, on layouts this machine may not have.

const HYBRID_MOUNTINFO = [
  '30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate',
  '32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd',
  '33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
  '34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
  '35 30 0:31 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
].join('\n');

test('parseCgroups: hybrid — cgroup v2 beside the v1 hierarchies, with only hugetlb', () => {
  const files: Record<string, string> = { '/sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n', '/sys/fs/cgroup/unified/cgroup.subtree_control': '\n' };
  const info = parseCgroups(HYBRID_MOUNTINFO, '4:memory:/x\n0::/\n', (p) => files[p], () => false);
  assert.equal(info, {
    mode: 'hybrid',
    v2Mount: '/sys/fs/cgroup/unified',
    v2Path: '/',
    v2Controllers: ['hugetlb'],
    v2SubtreeControl: [],
    delegated: false,
    v1Controllers: ['cpu', 'cpuacct', 'memory', 'pids'],
  });
});

test('parseCgroups: unified, our systemd user cgroup delegated with its controllers', () => {
  const mountinfo = '30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';
  const own = '/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope';
  const dir = `/sys/fs/cgroup${own}`;
  const files: Record<string, string> = { [`${dir}/cgroup.controllers`]: 'cpu io memory pids\n', [`${dir}/cgroup.subtree_control`]: 'memory pids\n' };
  const info = parseCgroups(mountinfo, `0::${own}\n`, (p) => files[p], (p) => p === dir);
  assert.is(info.mode, 'unified');
  assert.is(info.v2Path, own);
  assert.equal(info.v2Controllers, ['cpu', 'io', 'memory', 'pids']);
  assert.equal(info.v2SubtreeControl, ['memory', 'pids']);
  assert.is(info.delegated, true);
  assert.equal(info.v1Controllers, []);
});

test('parseCgroups: legacy v1 only, and a cgroup namespace root stripped from our path', () => {
  const legacy = parseCgroups(HYBRID_MOUNTINFO.split('\n').filter((l) => !l.includes('cgroup2')).join('\n'), '4:memory:/x\n', () => undefined, () => true);
  assert.is(legacy.mode, 'legacy');
  assert.is(legacy.v2Mount, '');
  assert.equal(legacy.v2Controllers, []);
  const nested = parseCgroups('40 30 0:27 /ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw', '0::/ctr/inner\n', () => '', () => false);
  assert.is(nested.v2Path, '/inner');
});

test('usernsSwitches: each kernel switch that forbids user namespaces, with its sysctl fix', () => {
  assert.is(usernsSwitches({ unprivilegedClone: '1\n', maxUserNamespaces: '63000\n', apparmorRestrict: '0\n' }), undefined);
  assert.is(usernsSwitches({}), undefined);
  assert.match(usernsSwitches({ unprivilegedClone: '0\n' })!, /sysctl -w kernel\.unprivileged_userns_clone=1/);
  assert.match(usernsSwitches({ maxUserNamespaces: '0\n' })!, /sysctl -w user\.max_user_namespaces=15000/);
  assert.match(usernsSwitches({ apparmorRestrict: '1\n' })!, /AppArmor.*apparmor_restrict_unprivileged_userns=0/);
});

test('nativeOverlayInUserns: Linux 5.11 and later, or an Ubuntu kernel that permits it', () => {
  assert.is(nativeOverlayInUserns('5.10.0-28-amd64', undefined), false);
  assert.is(nativeOverlayInUserns('5.11.0', undefined), true);
  assert.is(nativeOverlayInUserns('6.1.0-18-amd64', undefined), true);
  assert.is(nativeOverlayInUserns('5.4.0-150-generic', 'Y\n'), true);
});

test('parseOsRelease and toYaml quoting', () => {
  assert.equal(parseOsRelease('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'), { distribution: 'debian', version: '12', codename: 'bookworm' });
  assert.equal(parseOsRelease(undefined), { distribution: 'unknown', version: '', codename: '' });
  assert.is(
    toYaml({ a: { version: '12', empty: '', colon: 'x: y', plain: '/usr/bin/pasta', n: 3, list: [], objs: [{ k: 1, j: 'v' }] } }),
    'a:\n  version: "12"\n  empty: ""\n  colon: "x: y"\n  plain: /usr/bin/pasta\n  n: 3\n  list: []\n  objs:\n  - k: 1\n    j: v\n',
  );
});

test.run();
