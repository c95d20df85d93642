import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSeccompProfile, loadSeccompProfile } from '../../../core/security/seccomp.js';
import { TsboxError } from '../../../core/errors.js';

let dir = '';
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-profile-'));
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function profileFile(content: unknown): string {
  const file = join(dir, `profile-${counter++}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function refusal(path: string): Promise<TsboxError> {
  try {
    await loadSeccompProfile(path);
  } catch (err) {
    assert.instance(err, TsboxError);
    assert.is((err as TsboxError).exitCode, 125);
    assert.not.match((err as Error).message, '\n');
    return err as TsboxError;
  }
  assert.unreachable(`${path} loaded`);
  throw new Error('unreachable');
}

const minimal = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };
const withRule = (rule: Record<string, unknown>) => ({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', ...rule }] });

test('the default profile survives a round trip through a seccomp.json file', async () => {
  const file = profileFile(defaultSeccompProfile());
  assert.equal(await loadSeccompProfile(file), defaultSeccompProfile());
});

test('a podman-style file with errno names, comments and empty selectors loads', async () => {
  const file = profileFile({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    defaultErrno: 'ENOSYS',
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [], comment: '', includes: {}, excludes: {}, errnoRet: 1, errno: 'EPERM' },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: null, includes: { caps: ['CAP_AUDIT_WRITE'] } }],
  });
  const profile = await loadSeccompProfile(file);
  assert.is(profile.defaultErrnoRet, 38);
  assert.is(profile.syscalls[0]!.errnoRet, 1);
  assert.equal(profile.syscalls[1]!.includes, { caps: ['CAP_AUDIT_WRITE'] });
});

test('an old docker-style rule naming one system call in "name" loads', async () => {
  const profile = await loadSeccompProfile(profileFile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'mount', action: 'SCMP_ACT_ERRNO' }] }));
  assert.equal(profile.syscalls[0]!.names, ['mount']);
});

test('a missing file is refused with its path', async () => {
  const path = join(dir, 'absent.json');
  const err = await refusal(path);
  assert.match(err.message, `reading seccomp profile ${path}`);
  assert.match(err.message, 'no such file');
});

test('a file that is not JSON is refused with its path', async () => {
  const path = profileFile('{ "defaultAction": ');
  assert.match((await refusal(path)).message, `seccomp profile ${path} is not valid JSON`);
});

const refusals: Array<[string, unknown, string]> = [
  ['a top level that is not an object', [minimal], 'the profile must be a JSON object'],
  ['an unknown default action', { ...minimal, defaultAction: 'SCMP_ACT_MAYBE' }, 'defaultAction: unknown action "SCMP_ACT_MAYBE"'],
  ['a missing default action', { syscalls: [] }, 'defaultAction: unknown action undefined'],
  ['an unknown rule action', withRule({ action: 'SCMP_ACT_FOO' }), 'syscalls[0].action: unknown action "SCMP_ACT_FOO"'],
  ['a notify action, which needs a listener tsbox does not run', withRule({ action: 'SCMP_ACT_NOTIFY' }), 'syscalls[0].action: SCMP_ACT_NOTIFY is not supported'],
  ['an unknown operator', withRule({ args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' }] }), 'syscalls[0].args[0]: unknown operator "SCMP_CMP_ABOUT"'],
  ['an argument index past 5', withRule({ args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }), 'syscalls[0].args[0].index must be 0 to 5, not 6'],
  ['a negative argument value', withRule({ args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }), 'syscalls[0].args[0].value must be a non-negative integer'],
  ['an argument value JSON cannot hold exactly', withRule({ args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] }), 'below 2^53'],
  ['an errnoRet out of range', withRule({ action: 'SCMP_ACT_ERRNO', errnoRet: 70000 }), 'syscalls[0].errnoRet must be an errno number'],
  ['names that are not strings', withRule({ names: [1] }), 'syscalls[0].names must be an array of strings'],
  ['a rule without names', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, 'syscalls[0] names no system call'],
  ['syscalls that is not an array', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: {} }, 'syscalls must be an array'],
  ['a minKernel that is not a version', withRule({ includes: { minKernel: 'new' } }), 'syscalls[0].includes.minKernel must be a version'],
];
for (const [what, content, message] of refusals) {
  test(`refuses ${what}, naming the file and the place`, async () => {
    const path = profileFile(content);
    const err = await refusal(path);
    assert.match(err.message, `seccomp profile ${path}: `);
    assert.match(err.message, message);
  });
}

test.run();
