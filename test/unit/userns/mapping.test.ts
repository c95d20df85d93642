import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildMapping, layOutRanges, parseSubordinateIds, type MappingInputs } from '../../../core/userns/mapping.js';
import { usernsHelperArgs } from '../../../core/userns/helper.js';
import { TsboxError } from '../../../core/errors.js';

const alice = { name: 'alice', uid: 1000, gid: 1000 };
const tools = { newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap' };

function inputs(overrides: Partial<MappingInputs> = {}): MappingInputs {
  return {
    user: alice,
    subuid: 'alice:100000:65536\n',
    subgid: 'alice:100000:65536\n',
    tools,
    ...overrides,
  };
}

test('finds a range given by user name', () => {
  assert.equal(parseSubordinateIds('bob:200000:65536\nalice:100000:65536\n', alice), [{ start: 100000, count: 65536 }]);
});

test('finds a range given by uid', () => {
  assert.equal(parseSubordinateIds('1000:300000:1000\n', alice), [{ start: 300000, count: 1000 }]);
});

test('keeps several ranges in file order, by name and by uid alike', () => {
  const text = 'alice:100000:65536\nbob:165536:65536\n1000:500000:10\n';
  assert.equal(parseSubordinateIds(text, alice), [
    { start: 100000, count: 65536 },
    { start: 500000, count: 10 },
  ]);
});

test('skips comments, blank lines and malformed lines', () => {
  const text = '# ranges\n\n   \nalice:abc:10\nalice:100000\nalice:-1:5\nalice:7:0\n  alice:100000:65536  \n';
  assert.equal(parseSubordinateIds(text, alice), [{ start: 100000, count: 65536 }]);
});

test('finds nothing for a user the file does not name', () => {
  assert.equal(parseSubordinateIds('bob:100000:65536\n10001:1:2\n', alice), []);
});

test('does not take a name that merely starts with the user name', () => {
  assert.equal(parseSubordinateIds('alice2:100000:65536\n', alice), []);
});

test('maps 0 to the user and 1.. to the subordinate ranges in order', () => {
  const mapping = buildMapping(inputs({ subuid: 'alice:100000:65536\nalice:300000:10\n' }));
  assert.equal(mapping.full, true);
  assert.equal(mapping.warning, undefined);
  assert.equal(mapping.uids, [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
    { inside: 65537, outside: 300000, count: 10 },
  ]);
  assert.equal(mapping.gids, [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
  ]);
});

test('maps a range listed twice only once, as the kernel refuses repeated ids', () => {
  const mapping = buildMapping(inputs({ subuid: 'alice:100000:65536\nalice:100000:65536\n' }));
  assert.equal(mapping.uids, [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
  ]);
});

test('leaves the user own id out of an overlapping range', () => {
  assert.equal(layOutRanges(1000, [{ start: 990, count: 20 }]), [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 990, count: 10 },
    { inside: 11, outside: 1001, count: 9 },
  ]);
});

test('falls back to the own id with a warning naming the user and the fix when subuid has no range', () => {
  const mapping = buildMapping(inputs({ subuid: 'bob:100000:65536\n' }));
  assert.equal(mapping.full, false);
  assert.equal(mapping.uids, [{ inside: 0, outside: 1000, count: 1 }]);
  assert.equal(mapping.gids, [{ inside: 0, outside: 1000, count: 1 }]);
  assert.match(mapping.warning!, /^no subordinate uid range for alice in \/etc\/subuid: /);
  assert.match(mapping.warning!, /will be owned by root/);
  assert.match(mapping.warning!, /alice:100000:65536/);
  assert.match(mapping.warning!, /usermod --add-subuids/);
});

test('warns about subgid when only subuid has a range', () => {
  const mapping = buildMapping(inputs({ subgid: '' }));
  assert.equal(mapping.full, false);
  assert.match(mapping.warning!, /no subordinate gid range for alice in \/etc\/subgid/);
  assert.match(mapping.warning!, /--add-subgids/);
});

test('says when the subuid file is missing', () => {
  const mapping = buildMapping(inputs({ subuid: undefined }));
  assert.equal(mapping.full, false);
  assert.match(mapping.warning!, /^\/etc\/subuid is missing or unreadable/);
});

test('falls back to the own id and names the package when newuidmap is missing', () => {
  const mapping = buildMapping(inputs({ tools: { missing: 'newuidmap' } }));
  assert.equal(mapping.full, false);
  assert.equal(mapping.uids, [{ inside: 0, outside: 1000, count: 1 }]);
  assert.match(mapping.warning!, /^newuidmap not found: .*\(install the uidmap package\)$/);
});

test('names a user without a passwd entry by uid in the warning', () => {
  const mapping = buildMapping(inputs({ user: { uid: 4242, gid: 4242 }, subuid: '' }));
  assert.match(mapping.warning!, /for uid 4242 in \/etc\/subuid.*e\.g\. 4242:100000:65536/);
});

test('turns a full mapping into helper arguments with the setuid tools', () => {
  const mapping = buildMapping(inputs());
  assert.equal(usernsHelperArgs(mapping, tools, { uid: 1000, gid: 1000 }), [
    '--uid-map', '0', '1000', '1',
    '--uid-map', '1', '100000', '65536',
    '--gid-map', '0', '1000', '1',
    '--gid-map', '1', '100000', '65536',
    '--newuidmap', '/usr/bin/newuidmap',
    '--newgidmap', '/usr/bin/newgidmap',
  ]);
});

test('turns an own-id mapping into helper arguments without the tools', () => {
  const mapping = buildMapping(inputs({ subuid: '' }));
  assert.equal(usernsHelperArgs(mapping, undefined, { uid: 1000, gid: 1000 }), [
    '--uid-map', '0', '1000', '1',
    '--gid-map', '0', '1000', '1',
  ]);
});

test('refuses a mapping of other ids when the setuid tools are missing', () => {
  const mapping = buildMapping(inputs());
  assert.throws(
    () => usernsHelperArgs(mapping, undefined, { uid: 1000, gid: 1000 }),
    (err: unknown) => err instanceof TsboxError && /newuidmap/.test(err.message) && err.hint === 'install the uidmap package',
  );
});

test.run();
