// buildSpec's rules: entrypoint/cmd as podman, env precedence, defaults,
// user, working dir, masks; and the keep-id mapping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildSpec, containerCommand, parseEnvFile, DEFAULT_PATH, MASKED_PATHS, type SpecOptions } from '../../../core/runtime/spec.js';
import { keepIdMapping } from '../../../core/runtime/keep-id.js';
import type { ImageConfig } from '../../../core/pull/config.js';
import { TsboxError } from '../../../core/errors.js';

const ID = 'abcdef0123456789'.repeat(4);
const LAYER = `sha256:${'1'.repeat(64)}`;

function image(config: ImageConfig['config'] = {}): ImageConfig {
  return { rootfs: { type: 'layers', diff_ids: [LAYER] }, config };
}

function spec(config: ImageConfig['config'], options: Partial<SpecOptions> = {}) {
  return buildSpec(image(config), { id: ID, command: [], layers: [LAYER], ...options });
}

// [image Entrypoint, image Cmd, --entrypoint, CMD given, expected]
const commandRules: [string[] | null | undefined, string[] | null | undefined, string | undefined, string[], string[] | 'error'][] = [
  [undefined, ['sh'], undefined, [], ['sh']],
  [undefined, ['sh'], undefined, ['ls', '-l'], ['ls', '-l']],
  [['/entry'], ['default'], undefined, [], ['/entry', 'default']],
  [['/entry'], ['default'], undefined, ['given'], ['/entry', 'given']],
  [['/entry'], ['default'], '', [], ['default']],
  [['/entry'], ['default'], '', ['ls'], ['ls']],
  [['/entry'], ['default'], '/other', [], ['/other']],
  [['/entry'], ['default'], '/other', ['x'], ['/other', 'x']],
  [undefined, ['default'], '["/bin/sh","-c"]', ['echo hi'], ['/bin/sh', '-c', 'echo hi']],
  [undefined, undefined, '[not json', [], ['[not json']],
  [null, null, undefined, [], 'error'],
  [undefined, undefined, '', [], 'error'],
];

for (const [entrypoint, cmd, given, command, expected] of commandRules) {
  test(`command: Entrypoint ${JSON.stringify(entrypoint)} Cmd ${JSON.stringify(cmd)} --entrypoint ${JSON.stringify(given)} CMD ${JSON.stringify(command)}`, () => {
    const config = { Entrypoint: entrypoint, Cmd: cmd };
    if (expected === 'error') {
      assert.throws(() => containerCommand(config, command, given), (e: unknown) => e instanceof TsboxError && /no command or entrypoint/.test(e.message));
    } else {
      assert.equal(containerCommand(config, command, given), expected);
    }
  });
}

test('env: defaults, then image, then env files, then -e; HOSTNAME added', () => {
  const s = spec(
    { Env: ['PATH=/image/bin', 'A=image', 'B=image'] },
    { command: ['sh'], envFiles: ['# comment\n\nB=file\nC=file\n  FROM_CALLER\nUNSET_IN_CALLER\n'], env: ['C=flag', 'D', 'E=x=y'], callerEnv: { D: 'caller', FROM_CALLER: 'yes' } },
  );
  assert.equal(s.process.env, ['PATH=/image/bin', 'container=podman', 'A=image', 'B=file', 'C=flag', 'FROM_CALLER=yes', 'D=caller', 'E=x=y', `HOSTNAME=${ID.slice(0, 12)}`]);
});

test('env: PATH default when the image has none; TERM=xterm with -t; -e K unset in the caller is dropped', () => {
  const s = spec({}, { command: ['sh'], tty: true, env: ['NOPE'], callerEnv: {} });
  assert.equal(s.process.env, [`PATH=${DEFAULT_PATH}`, 'container=podman', 'TERM=xterm', `HOSTNAME=${ID.slice(0, 12)}`]);
  assert.ok(s.process.terminal);
});

test('env: -e HOSTNAME wins over the generated one', () => {
  const s = spec({}, { command: ['sh'], env: ['HOSTNAME=mine'] });
  assert.ok(s.process.env.includes('HOSTNAME=mine'));
  assert.is(s.process.env.filter((e) => e.startsWith('HOSTNAME=')).length, 1);
});

test('env: a name with whitespace or an empty name is refused', () => {
  assert.throws(() => spec({}, { command: ['sh'], env: ['=x'] }), /name is empty/);
  assert.throws(() => parseEnvFile('BAD KEY=1\n'), /whitespace/);
});

test('working dir: -w, else the image WorkingDir, else /; relative refused', () => {
  assert.is(spec({ WorkingDir: '/app' }, { command: ['sh'] }).process.cwd, '/app');
  assert.is(spec({ WorkingDir: '/app' }, { command: ['sh'], workdir: '/w' }).process.cwd, '/w');
  assert.is(spec({}, { command: ['sh'] }).process.cwd, '/');
  assert.throws(() => spec({}, { command: ['sh'], workdir: 'rel' }), /absolute/);
});

test('user: -u, else the image User, else root; keep-id defaults to the own ids', () => {
  assert.is(spec({ User: 'app' }, { command: ['sh'] }).process.user, 'app');
  assert.is(spec({ User: 'app' }, { command: ['sh'], user: '1000:1000' }).process.user, '1000:1000');
  assert.is(spec({}, { command: ['sh'] }).process.user, '0:0');
  assert.is(spec({}, { command: ['sh'], userns: 'keep-id', ownIds: { uid: 1001, gid: 1002 } }).process.user, '1001:1002');
});

test('hostname: first 12 characters of the id unless given', () => {
  assert.is(spec({}, { command: ['sh'] }).hostname, ID.slice(0, 12));
  assert.is(spec({}, { command: ['sh'], hostname: 'box' }).hostname, 'box');
});

test('default mounts, masks and read-only paths; --privileged drops masks and seccomp', () => {
  const s = spec({}, { command: ['sh'], mounts: [{ destination: '/data', type: 'bind', source: '/host', options: ['ro'] }] });
  assert.equal(s.mounts.map((m) => [m.destination, m.type]), [['/proc', 'proc'], ['/dev', 'dev'], ['/sys', 'sysfs'], ['/data', 'bind']]);
  assert.ok(s.maskedPaths.includes('/proc/kcore'));
  assert.equal(s.maskedPaths, MASKED_PATHS);
  assert.ok(s.readonlyPaths.includes('/proc/sys'));
  assert.equal(s.seccomp, { profile: 'default' });
  const p = spec({}, { command: ['sh'], privileged: true });
  assert.equal(p.maskedPaths, []);
  assert.equal(p.readonlyPaths, []);
  assert.is(p.seccomp, undefined);
  assert.is(spec({}, { command: ['sh'], seccomp: 'unconfined' }).seccomp, undefined);
});

test('--read-only: writable tmpfs on /run, /tmp, /var/tmp unless the user mounts there', () => {
  const s = spec({}, { command: ['sh'], readOnly: true, mounts: [{ destination: '/tmp', type: 'bind', source: '/host', options: [] }] });
  assert.ok(s.root.readonly);
  assert.equal(s.mounts.filter((m) => m.type === 'tmpfs').map((m) => m.destination), ['/run', '/var/tmp']);
  assert.equal(spec({}, { command: ['sh'] }).mounts.filter((m) => m.type === 'tmpfs'), []);
});

test('network: host mode shares the network namespace; a relative mount destination is refused', () => {
  assert.is(spec({}, { command: ['sh'], network: { mode: 'host' } }).namespaces.network, false);
  assert.is(spec({}, { command: ['sh'], network: { mode: 'none' } }).namespaces.network, true);
  assert.throws(() => spec({}, { command: ['sh'], mounts: [{ destination: 'data', type: 'bind', source: '/h', options: [] }] }), /absolute/);
});

test('keep-id swaps the own id and U, leaving every other id in place', () => {
  const mapping = {
    uids: [{ inside: 0, outside: 1001, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
    gids: [{ inside: 0, outside: 1001, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
    full: true,
  };
  const k = keepIdMapping(mapping, { uid: 1001, gid: 1001 });
  assert.equal(k.uids, [
    { inside: 0, outside: 101000, count: 1 }, // was inside 1001
    { inside: 1, outside: 100000, count: 1000 },
    { inside: 1001, outside: 1001, count: 1 }, // the user
    { inside: 1002, outside: 101001, count: 64535 },
  ]);
  // a single-id mapping: only the user, now at U
  const single = keepIdMapping({ uids: [{ inside: 0, outside: 1001, count: 1 }], gids: [{ inside: 0, outside: 1001, count: 1 }], full: false }, { uid: 1001, gid: 1001 });
  assert.equal(single.uids, [{ inside: 1001, outside: 1001, count: 1 }]);
});

test.run();
