// The mount flags of `run`, as tables of inputs and the entries or exact
// errors podman gives for them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkBindSources,
  parseMountFlag,
  parseMountFlags,
  parseTmpfsFlag,
  parseVolumeFlag,
  type MountEntry,
} from '../../../core/volume/mount-flags.js';

const cwd = '/home/alice/src';
const NOT_YET = 'is not supported by tsbox yet';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return '(no error)';
}

const volumeGood: [string, MountEntry][] = [
  ['/host:/ctr', { type: 'bind', source: '/host', destination: '/ctr', readOnly: false, options: [] }],
  ['/host/:/ctr/sub/:ro', { type: 'bind', source: '/host', destination: '/ctr/sub', readOnly: true, options: [] }],
  ['/h:/c:rw,z', { type: 'bind', source: '/h', destination: '/c', readOnly: false, options: [] }],
  ['/h:/c:Z,ro,rprivate,nosuid,nodev,noexec', { type: 'bind', source: '/h', destination: '/c', readOnly: true, options: ['rprivate', 'nosuid', 'nodev', 'noexec'] }],
  ['/h:/c:rshared,cached', { type: 'bind', source: '/h', destination: '/c', readOnly: false, options: ['rshared'] }],
  ['./x:/c', { type: 'bind', source: '/home/alice/src/x', destination: '/c', readOnly: false, options: [] }],
  ['.:/src', { type: 'bind', source: '/home/alice/src', destination: '/src', readOnly: false, options: [] }],
  ['../up:/c/../d', { type: 'bind', source: '/home/alice/up', destination: '/d', readOnly: false, options: [] }],
  ['data:/var/lib/db', { type: 'volume', source: 'data', destination: '/var/lib/db', readOnly: false, options: [] }],
  ['my.vol_1-x:/d:ro,nocopy', { type: 'volume', source: 'my.vol_1-x', destination: '/d', readOnly: true, options: ['nocopy'] }],
  ['/anon', { type: 'volume', destination: '/anon', readOnly: false, options: [] }],
];

for (const [input, want] of volumeGood) {
  test(`-v ${input}`, () => {
    assert.equal(parseVolumeFlag(input, { cwd }), want);
  });
}

const volumeBad: [string, string][] = [
  ['/a:/b:ro:x', '/a:/b:ro:x: incorrect volume format, should be [host-dir:]ctr-dir[:option]'],
  [':/c', 'host directory cannot be empty'],
  ['/h:', 'container directory cannot be empty'],
  ['/h:rel', 'invalid container path "rel", must be an absolute path'],
  ['rel', 'invalid container path "rel", must be an absolute path'],
  ['/h:/c:ro,rw', 'invalid options "ro, rw", can only specify 1 \'rw\' or \'ro\' option'],
  ['/h:/c:private,rshared', "invalid options \"private, rshared\", can only specify 1 '[r]shared', '[r]private', '[r]slave' or '[r]unbindable' option"],
  ['/h:/c:noexec,exec', "invalid options \"noexec, exec\", can only specify 1 'noexec' or 'exec' option"],
  ['/h:/c:bogus', 'invalid option type "bogus"'],
  ['/h:/c:', 'invalid option type ""'],
  ['/h:/c:U', `the volume option 'U' (chown the source to the container's user) ${NOT_YET}`],
  ['/h:/c:O', `the volume option 'O' (an overlay over the host directory) ${NOT_YET}`],
  ['/h:/c:idmap', `the volume option "idmap" (id-mapped mounts) ${NOT_YET}`],
  ['src/dir:/c', 'running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument'],
  ['-x:/c', 'running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument'],
];

for (const [input, message] of volumeBad) {
  test(`-v ${input} is refused`, () => {
    assert.is(errorOf(() => parseVolumeFlag(input, { cwd })), message);
  });
}

const mountGood: [string, MountEntry][] = [
  ['type=bind,source=/h,target=/c', { type: 'bind', source: '/h', destination: '/c', readOnly: false, options: [] }],
  ['type=bind,src=/h,dst=/c,readonly', { type: 'bind', source: '/h', destination: '/c', readOnly: true, options: [] }],
  ['type=bind,src=/h,destination=/c,ro=true', { type: 'bind', source: '/h', destination: '/c', readOnly: true, options: [] }],
  ['type=bind,src=/h,dest=/c,ro=false', { type: 'bind', source: '/h', destination: '/c', readOnly: false, options: [] }],
  ['type=bind,src=/h,target=/c,rw=false', { type: 'bind', source: '/h', destination: '/c', readOnly: true, options: [] }],
  ['type=bind,src=/h,target=/c,bind-propagation=rslave,nosuid', { type: 'bind', source: '/h', destination: '/c', readOnly: false, options: ['rslave', 'nosuid'] }],
  ['type=bind,target=/etc/hosts', { type: 'bind', source: '/etc/hosts', destination: '/etc/hosts', readOnly: false, options: [] }],
  ['type=bind,src=./rel,target=/c,z', { type: 'bind', source: '/home/alice/src/rel', destination: '/c', readOnly: false, options: [] }],
  ['"type=bind","src=/a,b",target=/c', { type: 'bind', source: '/a,b', destination: '/c', readOnly: false, options: [] }],
  ['type=volume,source=data,target=/d', { type: 'volume', source: 'data', destination: '/d', readOnly: false, options: [] }],
  ['source=data,target=/d,readonly', { type: 'volume', source: 'data', destination: '/d', readOnly: true, options: [] }],
  ['type=volume,target=/anon', { type: 'volume', destination: '/anon', readOnly: false, options: [] }],
  ['type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777', { type: 'tmpfs', destination: '/t', readOnly: false, options: ['size=64m', 'mode=1777'] }],
  ['type=tmpfs,dst=/t,noexec,notmpcopyup', { type: 'tmpfs', destination: '/t', readOnly: false, options: ['noexec', 'notmpcopyup'] }],
];

for (const [input, want] of mountGood) {
  test(`--mount ${input}`, () => {
    assert.equal(parseMountFlag(input, { cwd }), want);
  });
}

const mountBad: [string, string][] = [
  ['type=bind,src=/h', 'must set volume destination'],
  ['type=nfs,target=/c', 'invalid filesystem type "nfs"'],
  ['type=image,src=alpine,target=/c', `the mount type "image" ${NOT_YET}`],
  ['type=bind,src=/h,target=c', 'invalid container path "c", must be an absolute path'],
  ['type=bind,src=/h,target', 'target: must provide an argument for option'],
  ['type=bind,src=,target=/c', 'host directory cannot be empty: must provide an argument for option'],
  ['type=bind,src=/h,src=/i,target=/c', 'cannot pass "src" option more than once: must provide an argument for option'],
  ['type=bind,src=/h,target=/c,target=/d', 'cannot pass "target" option more than once: must provide an argument for option'],
  ['type=bind,src=/h,target=/c,ro,rw', "cannot pass 'readonly', 'ro', or 'rw' mnt.Options more than once: must provide an argument for option"],
  ['type=bind,src=/h,target=/c,readonly=maybe', 'invalid value "readonly=maybe": must be true or false'],
  ['type=bind,src=/h,target=/c,bind-propagation=sideways', 'invalid value "bind-propagation=sideways"'],
  ['type=bind,src=/h,target=/c,tmpfs-size=1m', '"tmpfs-size" option not supported for "bind" mount types'],
  ['type=tmpfs,src=/h,target=/c', '"src" option not supported for "tmpfs" mount types'],
  ['type=tmpfs,target=/c,bind-propagation=rslave', '"bind-propagation" option not supported for "tmpfs" mount types'],
  ['type=bind,src=/h,target=/c,bogus=1', 'bogus: invalid mount option'],
  ['type=bind,src=/h,target=/c,U', `the mount option "U" (chown the source to the container's user) ${NOT_YET}`],
  ['type=volume,src=a/b,target=/c', 'running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument'],
  ['type=volume,src=v,target=/c,volume-label=a=b', 'the --volume-label option is not presently implemented'],
  ['type=bind,src="/h,target=/c', 'type=bind,src="/h,target=/c: bare " in non-quoted field'],
  ['type=bind,"src=/h,target=/c', 'type=bind,"src=/h,target=/c: extraneous or missing " in quoted field'],
];

for (const [input, message] of mountBad) {
  test(`--mount ${input} is refused`, () => {
    assert.is(errorOf(() => parseMountFlag(input, { cwd })), message);
  });
}

const tmpfsGood: [string, MountEntry][] = [
  ['/tmp', { type: 'tmpfs', destination: '/tmp', readOnly: false, options: [] }],
  ['/run/', { type: 'tmpfs', destination: '/run', readOnly: false, options: [] }],
  ['/t:size=64m,mode=1777,noexec,nosuid', { type: 'tmpfs', destination: '/t', readOnly: false, options: ['size=64m', 'mode=1777', 'noexec', 'nosuid'] }],
  ['/t:ro,uid=1000,gid=1000', { type: 'tmpfs', destination: '/t', readOnly: true, options: ['uid=1000', 'gid=1000'] }],
];

for (const [input, want] of tmpfsGood) {
  test(`--tmpfs ${input}`, () => {
    assert.equal(parseTmpfsFlag(input), want);
  });
}

const tmpfsBad: [string, string][] = [
  ['tmp', 'invalid container path "tmp", must be an absolute path'],
  ['', 'container directory cannot be empty'],
  ['/t:size=', 'invalid tmpfs option "size=" for /t'],
  ['/t:bogus', 'invalid tmpfs option "bogus" for /t'],
];

for (const [input, message] of tmpfsBad) {
  test(`--tmpfs ${input} is refused`, () => {
    assert.is(errorOf(() => parseTmpfsFlag(input)), message);
  });
}

test('parseMountFlags refuses two different mounts at one destination, whatever the flags', () => {
  assert.is(errorOf(() => parseMountFlags({ volume: ['/a:/x', '/b:/x/'] }, { cwd })), '/x: duplicate mount destination');
  assert.is(errorOf(() => parseMountFlags({ volume: ['/a:/x'], tmpfs: ['/x'] }, { cwd })), '/x: duplicate mount destination');
  assert.is(errorOf(() => parseMountFlags({ mount: ['type=volume,src=v,dst=/x'], volume: ['/x'] }, { cwd })), '/x: duplicate mount destination');
  assert.is(errorOf(() => parseMountFlags({ volume: ['/a:/x'], mount: ['type=bind,src=/a,dst=/x,ro'] }, { cwd })), '/x: duplicate mount destination');
});

test('parseMountFlags collapses the same mount given twice, as podman does', () => {
  const entries = parseMountFlags({ volume: ['/a:/x', '/a:/x'], mount: ['type=bind,src=/a,dst=/x/'] }, { cwd });
  assert.equal(entries, [{ type: 'bind', source: '/a', destination: '/x', readOnly: false, options: [] }]);
});

test('parseMountFlags puts parents before the mounts nested in them, else keeps the order given', () => {
  const entries = parseMountFlags({ volume: ['/h1:/a/b/c', 'v:/a', '/h2:/z'], tmpfs: ['/a/b'], mount: ['type=bind,src=/h3,dst=/y'] }, { cwd });
  assert.equal(
    entries.map((e) => e.destination),
    ['/y', '/a', '/z', '/a/b', '/a/b/c'],
  );
});

test('checkBindSources reports a missing host path as podman does, and passes existing ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-mounts-'));
  try {
    const ok = parseMountFlags({ volume: [`${dir}:/ok`, 'named:/v'], tmpfs: ['/t'] }, { cwd });
    checkBindSources(ok);
    const missing = parseMountFlags({ volume: [`${dir}/nope:/x`] }, { cwd });
    assert.is(errorOf(() => checkBindSources(missing)), `statfs ${dir}/nope: no such file or directory`);
    const relative = parseMountFlags({ volume: ['./nope:/x'] }, { cwd: dir });
    assert.is(errorOf(() => checkBindSources(relative)), `statfs ${dir}/nope: no such file or directory`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
