import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BadDigestError,
  BadReferenceError,
  familiarName,
  formatReference,
  isShortName,
  parseDigest,
  parseReference,
  withRegistry,
} from '../../../core/reference/index.js';

const HEX64 = 'a'.repeat(64);
const HEX128 = 'b'.repeat(128);

// input -> the normalised reference podman would print
const good: Array<[string, string]> = [
  ['alpine', 'docker.io/library/alpine:latest'],
  ['alpine:3.19', 'docker.io/library/alpine:3.19'],
  ['user/app', 'docker.io/user/app:latest'],
  ['docker.io/alpine', 'docker.io/library/alpine:latest'],
  ['docker.io/user/app:v1', 'docker.io/user/app:v1'],
  ['index.docker.io/x', 'docker.io/library/x:latest'],
  ['index.docker.io/user/x', 'docker.io/user/x:latest'],
  ['localhost/x', 'localhost/x:latest'],
  ['localhost:5000/x', 'localhost:5000/x:latest'],
  ['host:5000/a/b:tag', 'host:5000/a/b:tag'],
  ['host.name/a', 'host.name/a:latest'],
  ['quay.io/a/b/c/d', 'quay.io/a/b/c/d:latest'],
  ['[::1]:5000/a', '[::1]:5000/a:latest'],
  ['[fe80::1]/a:t', '[fe80::1]/a:t'],
  ['127.0.0.1:5000/a', '127.0.0.1:5000/a:latest'],
  ['Registry.Example.COM/a', 'Registry.Example.COM/a:latest'],
  ['a__b/c.d/e-f/g---h', 'docker.io/a__b/c.d/e-f/g---h:latest'],
  ['host:5000', 'docker.io/library/host:5000'],
  ['a:' + 'T'.repeat(128), 'docker.io/library/a:' + 'T'.repeat(128)],
  [`alpine@sha256:${HEX64}`, `docker.io/library/alpine@sha256:${HEX64}`],
  [`alpine:3@sha256:${HEX64}`, `docker.io/library/alpine:3@sha256:${HEX64}`],
  [`host:5000/a/b@sha512:${HEX128}`, `host:5000/a/b@sha512:${HEX128}`],
];

for (const [input, expected] of good) {
  test(`"${input.slice(0, 60)}" normalises to ${expected.slice(0, 60)}`, () => {
    assert.is(formatReference(parseReference(input)), expected);
  });
}

// input -> the error message a user sees
const bad: Array<[string, string]> = [
  ['', 'invalid reference format: repository name must have at least one component'],
  ['Alpine', 'invalid reference format: repository name must be lowercase'],
  ['user/Alpine', 'invalid reference format: repository name must be lowercase'],
  ['docker.io/User/app', 'invalid reference format: repository name must be lowercase'],
  ['a:' + 'x'.repeat(129), 'invalid reference format: tag must be at most 128 characters'],
  ['a:', 'invalid reference format: tag must not be empty'],
  ['a:.x', `invalid reference format: invalid tag ".x": letters, digits, '_', '.' and '-' only, not starting with '.' or '-'`],
  ['a:x/y', 'invalid reference format: invalid registry "a:x"'],
  ['a..b', 'invalid reference format: invalid repository path component "a..b": lowercase letters and digits, separated by \'.\', \'_\', \'__\' or \'-\''],
  ['a___b', 'invalid reference format: invalid repository path component "a___b": lowercase letters and digits, separated by \'.\', \'_\', \'__\' or \'-\''],
  ['-a', 'invalid reference format: invalid repository path component "-a": lowercase letters and digits, separated by \'.\', \'_\', \'__\' or \'-\''],
  ['a/b/', 'invalid reference format: repository name has an empty path component'],
  ['a//b', 'invalid reference format: repository name has an empty path component'],
  ['a b', 'invalid reference format: invalid repository path component "a b": lowercase letters and digits, separated by \'.\', \'_\', \'__\' or \'-\''],
  ['host_name.com/a', 'invalid reference format: invalid registry "host_name.com"'],
  ['-host.com/a', 'invalid reference format: invalid registry "-host.com"'],
  ['a@sha256:abc', 'invalid reference format: invalid digest format'],
  [`a@sha256:${'a'.repeat(63)}`, 'invalid reference format: invalid checksum digest length'],
  [`a@sha256:${HEX128}`, 'invalid reference format: invalid checksum digest length'],
  [`a@sha256:${'A'.repeat(64)}`, 'invalid reference format: invalid checksum digest format'],
  [`a@md5:${'a'.repeat(32)}`, 'invalid reference format: unsupported digest algorithm'],
  [HEX64, `invalid reference format: invalid repository name (${HEX64}), cannot specify 64-byte hexadecimal strings`],
  ['h.com/' + 'a'.repeat(250), 'invalid reference format: repository name must not be more than 255 characters'],
];

for (const [input, message] of bad) {
  test(`"${input.slice(0, 40)}" is refused: ${message.slice(26, 90)}`, () => {
    try {
      parseReference(input);
    } catch (err) {
      assert.instance(err, BadReferenceError);
      assert.is((err as BadReferenceError).message, message);
      assert.is((err as BadReferenceError).exitCode, 125);
      return;
    }
    assert.unreachable(`${input} was accepted`);
  });
}

test('a reference with only a digest gets no tag, and one with both keeps both', () => {
  assert.equal(parseReference(`alpine@sha256:${HEX64}`), {
    registry: 'docker.io',
    repository: 'library/alpine',
    digest: `sha256:${HEX64}`,
  });
  assert.equal(parseReference(`alpine:3@sha256:${HEX64}`), {
    registry: 'docker.io',
    repository: 'library/alpine',
    tag: '3',
    digest: `sha256:${HEX64}`,
  });
});

test('short names are those without a host in the first path part', () => {
  for (const short of ['alpine', 'alpine:3', 'user/app', 'user/app:1', `alpine@sha256:${HEX64}`, 'a/b/c']) {
    assert.ok(isShortName(short), short);
  }
  for (const full of ['docker.io/alpine', 'localhost/x', 'host:5000/a', 'h.com/a', '[::1]/a', 'Host/a']) {
    assert.not.ok(isShortName(full), full);
  }
});

test('withRegistry moves the same path, tag and digest to another registry', () => {
  const ref = parseReference(`alpine:3@sha256:${HEX64}`);
  assert.is(formatReference(withRegistry(ref, '127.0.0.1:5000')), `127.0.0.1:5000/library/alpine:3@sha256:${HEX64}`);
  assert.is(ref.registry, 'docker.io');
});

test('familiarName drops docker.io and library/ as docker prints them', () => {
  assert.is(familiarName(parseReference('alpine')), 'alpine:latest');
  assert.is(familiarName(parseReference('user/app:1')), 'user/app:1');
  assert.is(familiarName(parseReference('docker.io/library/a/b')), 'library/a/b:latest');
  assert.is(familiarName(parseReference('quay.io/x/y')), 'quay.io/x/y:latest');
});

test('parseDigest accepts sha256 and sha512 of the exact length in lowercase hex', () => {
  assert.equal(parseDigest(`sha256:${HEX64}`), { algorithm: 'sha256', hex: HEX64 });
  assert.equal(parseDigest(`sha512:${HEX128}`), { algorithm: 'sha512', hex: HEX128 });
});

test('parseDigest refuses a wrong length, uppercase, an unknown algorithm or a missing colon', () => {
  const cases: Array<[string, string]> = [
    [`sha256:${HEX128}`, 'invalid checksum digest length'],
    [`sha512:${HEX64}`, 'invalid checksum digest length'],
    [`sha256:${'F'.repeat(64)}`, 'invalid checksum digest format'],
    [`sha256:${'g'.repeat(64)}`, 'invalid checksum digest format'],
    [`md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    [HEX64, 'invalid checksum digest format'],
    ['sha256:', 'invalid checksum digest format'],
  ];
  for (const [input, reason] of cases) {
    assert.throws(
      () => parseDigest(input),
      (err: unknown) => err instanceof BadDigestError && err.message === `invalid digest ${JSON.stringify(input)}: ${reason}`,
      input,
    );
  }
});

test.run();
