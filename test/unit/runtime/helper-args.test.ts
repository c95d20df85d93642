// helperArgs: the spec lowered to `tsbox-helper run` options, in order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildSpec } from '../../../core/runtime/spec.js';
import { helperArgs, type HelperPaths } from '../../../core/runtime/helper-args.js';

const ID = 'f'.repeat(64);
const L0 = `sha256:${'a'.repeat(64)}`;
const L1 = `sha256:${'b'.repeat(64)}`;
const image = { rootfs: { type: 'layers', diff_ids: [L0, L1] }, config: { Env: ['A=1'] } };

const single = { uids: [{ inside: 0, outside: 1000, count: 1 }], gids: [{ inside: 0, outside: 1000, count: 1 }], full: false };
const paths: HelperPaths = {
  layersDir: '/s/layers',
  upper: '/s/c/upper',
  work: '/s/c/work',
  merged: '/s/c/merged',
  statusFd: 4,
  mapping: single,
  tools: undefined,
  own: { uid: 1000, gid: 1000 },
};

/** The values following each occurrence of `flag`. */
function valuesOf(args: string[], flag: string, arity = 1): string[][] {
  const out: string[][] = [];
  const end = args.indexOf('--');
  args.forEach((a, i) => {
    if (a === flag && i < end) out.push(args.slice(i + 1, i + 1 + arity));
  });
  return out;
}

test('overlay lowers are relative to the layers dir, bottom first, and the command follows --', () => {
  const spec = buildSpec(image, { id: ID, command: ['ls', '-l', '--', 'x'], layers: [L0, L1] });
  const args = helperArgs(spec, paths);
  assert.equal(valuesOf(args, '--overlay-layers-dir'), [['/s/layers']]);
  assert.equal(valuesOf(args, '--overlay-lower'), [[`${'a'.repeat(64)}/diff`], [`${'b'.repeat(64)}/diff`]]);
  assert.equal(valuesOf(args, '--overlay', 3), [['/s/c/upper', '/s/c/work', '/s/c/merged']]);
  assert.equal(args.slice(args.indexOf('--') + 1), ['ls', '-l', '--', 'x']);
  assert.equal(valuesOf(args, '--uid-map', 3), [['0', '1000', '1']]);
  assert.equal(valuesOf(args, '--status-fd'), [['4']]);
  assert.equal(valuesOf(args, '--sync-fd'), []);
});

test('mounts in order: /proc, /dev, /sys, then the user\'s; masks and read-only paths after them', () => {
  const spec = buildSpec(image, {
    id: ID,
    command: ['sh'],
    layers: [L0],
    mounts: [
      { destination: '/data', type: 'bind', source: '/host/data', options: [] },
      { destination: '/conf', type: 'bind', source: '/host/conf', options: ['ro'] },
      { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'size=64m', 'mode=1777'] },
      { destination: '/t2', type: 'tmpfs', source: 'tmpfs', options: [] },
    ],
  });
  const args = helperArgs(spec, paths);
  const mountFlags = args.filter((a) => ['--proc', '--dev', '--sys', '--bind', '--ro-bind', '--tmpfs', '--mask', '--ro'].includes(a));
  assert.equal(mountFlags.slice(0, 7), ['--proc', '--dev', '--sys', '--bind', '--ro-bind', '--tmpfs', '--tmpfs']);
  assert.ok(mountFlags.slice(7).every((f) => f === '--mask' || f === '--ro'));
  assert.equal(valuesOf(args, '--bind', 2), [['/host/data', '/data']]);
  assert.equal(valuesOf(args, '--ro-bind', 2), [['/host/conf', '/conf']]);
  assert.equal(valuesOf(args, '--tmpfs', 2), [['/scratch', 'size=64m,mode=1777'], ['/t2', '-']]);
  assert.ok(valuesOf(args, '--mask').some(([p]) => p === '/proc/kcore'));
});

test('process: env cleared then set one by one (values with = kept), user, cwd, hostname', () => {
  const spec = buildSpec(image, { id: ID, command: ['sh'], layers: [L0], env: ['B=x=y'], workdir: '/w', user: 'app', hostname: 'box' });
  const args = helperArgs(spec, paths);
  const clear = args.indexOf('--clearenv');
  assert.ok(clear >= 0 && clear < args.indexOf('--setenv'));
  assert.equal(valuesOf(args, '--setenv', 2).find(([k]) => k === 'B'), ['B', 'x=y']);
  assert.equal(valuesOf(args, '--setenv', 2).find(([k]) => k === 'A'), ['A', '1']);
  assert.equal(valuesOf(args, '--user'), [['app']]);
  assert.equal(valuesOf(args, '--chdir'), [['/w']]);
  assert.equal(valuesOf(args, '--hostname'), [['box']]);
});

test('flags: network namespaces by mode, read-only, caps, no-new-privs, init, tty, seccomp, sync, remove', () => {
  const spec = buildSpec(image, {
    id: ID,
    command: ['sh'],
    layers: [L0],
    readOnly: true,
    capabilities: ['CAP_CHOWN', 'CAP_KILL'],
    noNewPrivileges: true,
    init: true,
    tty: true,
    network: { mode: 'host' },
  });
  const args = helperArgs(spec, { ...paths, syncFd: 5, seccompFd: 6, removeAfterExit: ['/s/c'] });
  for (const flag of ['--read-only', '--no-new-privs', '--init', '--tty', '--unshare-ipc', '--unshare-uts']) assert.ok(args.includes(flag), flag);
  assert.not.ok(args.includes('--unshare-net'));
  assert.equal(valuesOf(args, '--cap'), [['CAP_CHOWN,CAP_KILL']]);
  assert.equal(valuesOf(args, '--seccomp'), [['6']]);
  assert.equal(valuesOf(args, '--sync-fd'), [['5']]);
  assert.equal(valuesOf(args, '--remove-after-exit'), [['/s/c']]);
  const none = helperArgs(buildSpec(image, { id: ID, command: ['sh'], layers: [L0], network: { mode: 'none' } }), paths);
  assert.ok(none.includes('--unshare-net'));
});

test('a rootfs directory instead of layers; a full mapping passes newuidmap', () => {
  const spec = buildSpec(image, { id: ID, command: ['sh'], rootfs: '/my/root' });
  const full = {
    uids: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
    gids: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
    full: true,
  };
  const args = helperArgs(spec, { ...paths, mapping: full, tools: { newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap' } });
  assert.equal(valuesOf(args, '--rootfs', 2), [['/my/root', '/s/c/merged']]);
  assert.not.ok(args.includes('--overlay'));
  assert.equal(valuesOf(args, '--newuidmap'), [['/usr/bin/newuidmap']]);
});

test.run();
