import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostPlatform, parsePlatform, selectPlatform, formatPlatform } from '../../../core/registry/platform.js';
import { PlatformNotFoundError, BadPlatformError } from '../../../core/registry/errors.js';
import type { Descriptor } from '../../../core/registry/manifest.js';
import { OCI_MANIFEST } from '../../../core/registry/media-types.js';

let n = 0;
function entry(os: string, architecture: string, variant?: string): Descriptor {
  n++;
  const digest = `sha256:${n.toString(16).padStart(64, '0')}`;
  return { mediaType: OCI_MANIFEST, digest, size: 100, platform: variant ? { os, architecture, variant } : { os, architecture } };
}

test('the host platform is linux with the GOARCH name of the processor', () => {
  const p = hostPlatform();
  assert.is(p.os, 'linux');
  const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm' };
  if (expected[process.arch]) assert.is(p.architecture, expected[process.arch]);
  if (p.architecture === 'arm64') assert.is(p.variant, 'v8');
  if (p.architecture === 'amd64') assert.is(p.variant, undefined);
});

test('parsePlatform reads os/arch and os/arch/variant, and common architecture aliases', () => {
  assert.equal(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.equal(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.equal(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.equal(parsePlatform('arm64'), { os: 'linux', architecture: 'arm64' });
});

test('parsePlatform refuses empty parts and too many parts, saying what it expects', () => {
  for (const bad of ['', 'linux/', '/amd64', 'linux/arm/v7/extra', 'linux//v7', 'linux/am d64']) {
    try {
      parsePlatform(bad);
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (err) {
      assert.instance(err, BadPlatformError, bad);
      assert.match((err as Error).message, 'invalid platform');
      assert.match((err as BadPlatformError).userMessage(), 'OS/ARCH[/VARIANT]');
    }
  }
});

test('parsePlatform refuses an operating system or architecture no image is made for', () => {
  const message = (text: string) => {
    try {
      parsePlatform(text);
      return 'accepted';
    } catch (err) {
      return (err as BadPlatformError).userMessage();
    }
  };
  assert.is(message('bogus'), 'invalid platform "bogus": unknown architecture "bogus" (use OS/ARCH[/VARIANT], e.g. linux/arm64/v8)');
  assert.is(message('linx/amd64'), 'invalid platform "linx/amd64": unknown operating system "linx" (use OS/ARCH[/VARIANT], e.g. linux/arm64/v8)');
  assert.equal(parsePlatform('linux/s390x'), { os: 'linux', architecture: 's390x' });
  assert.equal(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
});

test('selectPlatform picks the entry with the same os and architecture', () => {
  const amd = entry('linux', 'amd64');
  const arm = entry('linux', 'arm', 'v7');
  const index = { manifests: [entry('windows', 'amd64'), arm, amd] };
  assert.is(selectPlatform(index, { os: 'linux', architecture: 'amd64' }), amd);
  assert.is(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' }), arm);
});

test('arm64 without a variant matches v8 on either side', () => {
  const plain = entry('linux', 'arm64');
  assert.is(selectPlatform({ manifests: [plain] }, { os: 'linux', architecture: 'arm64', variant: 'v8' }), plain);
  const v8 = entry('linux', 'arm64', 'v8');
  assert.is(selectPlatform({ manifests: [v8] }, { os: 'linux', architecture: 'arm64' }), v8);
});

test('the exact variant is preferred over an entry without a variant, whatever the order', () => {
  const none = entry('linux', 'arm');
  const v6 = entry('linux', 'arm', 'v6');
  const v7 = entry('linux', 'arm', 'v7');
  assert.is(selectPlatform({ manifests: [none, v6, v7] }, { os: 'linux', architecture: 'arm', variant: 'v7' }), v7);
  assert.is(selectPlatform({ manifests: [v6, none] }, { os: 'linux', architecture: 'arm', variant: 'v7' }), none);
});

test('amd64 ignores variants unless one is asked for, preferring the baseline', () => {
  const v3 = entry('linux', 'amd64', 'v3');
  const base = entry('linux', 'amd64');
  assert.is(selectPlatform({ manifests: [v3, base] }, { os: 'linux', architecture: 'amd64' }), base);
  assert.is(selectPlatform({ manifests: [v3] }, { os: 'linux', architecture: 'amd64' }), v3);
  assert.is(selectPlatform({ manifests: [base, v3] }, { os: 'linux', architecture: 'amd64', variant: 'v3' }), v3);
});

test('a missing platform is an error that lists what the index offers, leaving out attestations', () => {
  const index = { manifests: [entry('linux', 'amd64'), entry('linux', 'arm', 'v7'), entry('unknown', 'unknown')] };
  try {
    selectPlatform(index, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.unreachable('selected something');
  } catch (err) {
    assert.instance(err, PlatformNotFoundError);
    assert.is(
      (err as Error).message,
      'no image found in manifest list for architecture arm64, variant "v8", OS linux (available: linux/amd64, linux/arm/v7)',
    );
  }
});

test('a wrong arm variant is not silently replaced by another variant', () => {
  assert.throws(() => selectPlatform({ manifests: [entry('linux', 'arm', 'v6')] }, { os: 'linux', architecture: 'arm', variant: 'v7' }), /variant "v7"/);
});

test('formatPlatform writes os/arch[/variant]', () => {
  assert.is(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
  assert.is(formatPlatform({ os: 'linux', architecture: 'amd64' }), 'linux/amd64');
});

test.run();
