import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ALL_CAPABILITIES,
  CAPABILITY_NUMBERS,
  DEFAULT_CAPABILITIES,
  resolveCapabilities,
} from '../../../core/security/capabilities.js';
import { TsboxError } from '../../../core/errors.js';

const DEFAULTS = [...DEFAULT_CAPABILITIES].sort();

test('numbers run from CAP_CHOWN=0 to CAP_CHECKPOINT_RESTORE=40 without gaps', () => {
  assert.is(CAPABILITY_NUMBERS.CAP_CHOWN, 0);
  assert.is(CAPABILITY_NUMBERS.CAP_SYS_ADMIN, 21);
  assert.is(CAPABILITY_NUMBERS.CAP_CHECKPOINT_RESTORE, 40);
  assert.equal(ALL_CAPABILITIES.map((c) => CAPABILITY_NUMBERS[c]), [...Array(41).keys()]);
});

test('the default set is podman\'s eleven capabilities', () => {
  assert.equal(DEFAULTS, [
    'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE',
    'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
  ]);
});

const table: Array<[string, Parameters<typeof resolveCapabilities>[0], string[]]> = [
  ['no flags give the default set', {}, DEFAULTS],
  ['an added name without CAP_ in lower case joins the set', { add: ['net_admin'] }, [...DEFAULTS, 'CAP_NET_ADMIN'].sort()],
  ['a dropped name in mixed case leaves the set', { drop: ['Cap_Chown'] }, DEFAULTS.filter((c) => c !== 'CAP_CHOWN')],
  ['adding a capability already present changes nothing', { add: ['CAP_KILL'] }, DEFAULTS],
  ['dropping a capability not present changes nothing', { drop: ['SYS_ADMIN'] }, DEFAULTS],
  ['drop ALL keeps only what is added', { drop: ['all'], add: ['NET_RAW', 'chown'] }, ['CAP_CHOWN', 'CAP_NET_RAW']],
  ['drop ALL alone keeps nothing', { drop: ['ALL'] }, []],
  ['add ALL keeps every capability but the dropped ones', { add: ['ALL'], drop: ['SYS_ADMIN'] }, [...ALL_CAPABILITIES].filter((c) => c !== 'CAP_SYS_ADMIN').sort()],
  ['privileged keeps every capability', { privileged: true }, [...ALL_CAPABILITIES].sort()],
  ['privileged with a drop loses that one', { privileged: true, drop: ['CAP_BPF'] }, [...ALL_CAPABILITIES].filter((c) => c !== 'CAP_BPF').sort()],
  ['privileged with drop ALL keeps only what is added', { privileged: true, drop: ['ALL'], add: ['kill'] }, ['CAP_KILL']],
];
for (const [name, request, expected] of table) {
  test(name, () => assert.equal(resolveCapabilities(request), expected));
}

function refusal(fn: () => unknown): TsboxError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, TsboxError);
    return err as TsboxError;
  }
  assert.unreachable('expected a TsboxError');
  throw new Error('unreachable');
}

test('an unknown name is refused with its full CAP_ spelling', () => {
  const err = refusal(() => resolveCapabilities({ add: ['foo'] }));
  assert.is(err.message, 'unknown capability "CAP_FOO"');
  assert.is(err.exitCode, 125);
  assert.is(refusal(() => resolveCapabilities({ drop: ['CAP_FOO'] })).message, 'unknown capability "CAP_FOO"');
});

test('a capability both added and dropped is refused', () => {
  assert.match(refusal(() => resolveCapabilities({ add: ['chown'], drop: ['CAP_CHOWN'] })).message, '"CAP_CHOWN" cannot be both added and dropped');
});

test('ALL in both add and drop is refused', () => {
  assert.match(refusal(() => resolveCapabilities({ add: ['all'], drop: ['ALL'] })).message, 'adding all capabilities');
});

test.run();
