import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeMapping, parsePublish, parsePublishList } from '../../../core/network/publish.js';
import { parseNetworkMode, defaultBackend, hostHasDefaultRoute } from '../../../core/network/mode.js';
import { pastaArgs } from '../../../core/network/start.js';
import { TsboxError } from '../../../core/errors.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tcp = (hostIp: string, hostPort: number, containerPort: number, range = 1) => ({ hostIp, hostPort, containerPort, range, protocol: 'tcp' });

const valid: [string, object[]][] = [
  ['8080:80', [tcp('', 8080, 80)]],
  ['80', [tcp('', 0, 80)]],
  ['127.0.0.1:8080:80', [tcp('127.0.0.1', 8080, 80)]],
  ['127.0.0.1::80', [tcp('127.0.0.1', 0, 80)]],
  ['0.0.0.0:8080:80', [tcp('', 8080, 80)]],
  ['8000-8001:80-81', [tcp('', 8000, 80, 2)]],
  ['8000:80-81', [tcp('', 8000, 80, 2)]],
  ['80-81', [tcp('', 0, 80, 2)]],
  ['[::1]:8080:80', [tcp('::1', 8080, 80)]],
  ['[::1]::80', [tcp('::1', 0, 80)]],
  ['53:53/udp', [{ ...tcp('', 53, 53), protocol: 'udp' }]],
  ['53:53/TCP', [tcp('', 53, 53)]],
  ['53/tcp,udp', [tcp('', 0, 53), { ...tcp('', 0, 53), protocol: 'udp' }]],
];
for (const [value, expected] of valid) {
  test(`parsePublish ${value}`, () => assert.equal(parsePublish(value), expected));
}

const invalid: [string, RegExp][] = [
  ['', /non-empty container port/],
  ['8080:', /non-empty container port/],
  ['0:80', /between 1 and 65535.*got 0/],
  ['8080:65536', /between 1 and 65535.*got 65536/],
  ['abc:80', /invalid host port "abc"/],
  ['8080:80/sctp', /sctp is not supported/],
  ['8080:80/icmp', /unrecognized protocol "icmp"/],
  ['8001-8000:80-81', /end port of a range must be higher/],
  ['8000-8002:80-81', /different lengths: 3 vs 2/],
  ['::1:8080:80', /IPv6 addresses must be in brackets/],
  ['300.1.1.1:8080:80', /invalid IP address "300.1.1.1"/],
  ['[127.0.0.1]:8080:80', /invalid IPv6 address/],
  ['[::1]8080:80', /followed by \]:/],
  ['65535:80-81', /past 65535/],
];
for (const [value, message] of invalid) {
  test(`parsePublish refuses ${JSON.stringify(value)}`, () => {
    try {
      parsePublish(value);
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.instance(err, TsboxError);
      assert.match((err as TsboxError).userMessage(), message);
      assert.not.match((err as TsboxError).userMessage(), /\n/);
    }
  });
}

test('the same host port twice is refused, different protocols are not', () => {
  assert.throws(() => parsePublishList(['8080:80', '127.0.0.1:8000-8080:1-81']), /8080\/tcp is published twice/);
  assert.is(parsePublishList(['53:53/tcp', '53:53/udp']).length, 2);
  assert.is(parsePublishList(['127.0.0.1:80:80', '127.0.0.2:80:80']).length, 2);
});

test('describeMapping in podman notation', () => {
  assert.is(describeMapping(parsePublish('8000-8001:80-81')[0]!), '0.0.0.0:8000-8001->80-81/tcp');
  assert.is(describeMapping(parsePublish('[::1]:8080:80/udp')[0]!), '[::1]:8080->80/udp');
});

test('parseNetworkMode', () => {
  assert.equal(parseNetworkMode('none'), { kind: 'none' });
  assert.equal(parseNetworkMode('host'), { kind: 'host' });
  assert.equal(parseNetworkMode('private'), { kind: 'private' });
  assert.equal(parseNetworkMode('slirp4netns'), { kind: 'slirp4netns', allowHostLoopback: false, enableIpv6: false, mtu: undefined });
  assert.equal(parseNetworkMode('slirp4netns:allow_host_loopback=true,mtu=1500'), {
    kind: 'slirp4netns',
    allowHostLoopback: true,
    enableIpv6: false,
    mtu: 1500,
  });
  assert.equal(parseNetworkMode('pasta:-T,8080'), { kind: 'pasta', args: ['-T', '8080'] });
  assert.throws(() => parseNetworkMode('slirp4netns:cidr=10.1.0.0/24'), /unknown slirp4netns option "cidr"/);
  assert.throws(() => parseNetworkMode('bridge'), /bridge networks need root/);
  assert.throws(() => parseNetworkMode('none:x'), /takes no options/);
  assert.throws(() => parseNetworkMode('wat'), /unknown network mode "wat"/);
});

const ROUTES_DEFAULT = 'Iface\tDestination\tGateway\nenp1s0\t00000000\t0102A8C0\n';
const ROUTES_NONE = 'Iface\tDestination\tGateway\nenp1s0\t0002A8C0\t00000000\n';

test('defaultBackend: slirp4netns when installed (as podman 4), else pasta; the one-line error with neither', () => {
  assert.ok(hostHasDefaultRoute(ROUTES_DEFAULT));
  assert.not.ok(hostHasDefaultRoute(ROUTES_NONE));
  // fake programs, so the test does not depend on what this machine has installed
  const both = mkdtempSync(join(tmpdir(), 'tsbox-net-path-'));
  const slirpOnly = mkdtempSync(join(tmpdir(), 'tsbox-net-path-'));
  for (const [dir, name] of [[both, 'pasta'], [both, 'slirp4netns'], [slirpOnly, 'slirp4netns']] as const) {
    writeFileSync(join(dir, name), '#!/bin/sh\n', { mode: 0o755 });
  }
  const pastaOnly = mkdtempSync(join(tmpdir(), 'tsbox-net-path-'));
  writeFileSync(join(pastaOnly, 'pasta'), '#!/bin/sh\n', { mode: 0o755 });
  assert.is(defaultBackend({ path: slirpOnly }).backend, 'slirp4netns');
  assert.is(defaultBackend({ path: both }).backend, 'slirp4netns');
  assert.is(defaultBackend({ path: pastaOnly }).backend, 'pasta');
  try {
    defaultBackend({ path: '/nonexistent' });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.is(
      (err as TsboxError).userMessage(),
      'no rootless network backend found (install the passt or slirp4netns package, or use --network none)',
    );
    assert.is((err as TsboxError).exitCode, 125);
  } finally {
    rmSync(both, { recursive: true, force: true });
    rmSync(slirpOnly, { recursive: true, force: true });
    rmSync(pastaOnly, { recursive: true, force: true });
  }
});

test('pastaArgs publishes only what -p asks for', () => {
  const base = { pid: 42, pidFile: '/run/p.pid' };
  const none = pastaArgs({ ...base, ports: [] });
  assert.ok(none.join(' ').includes('-t none -u none'));
  assert.ok(none.join(' ').includes('-T none -U none'));
  assert.ok(none.join(' ').includes('--netns /proc/42/ns/net --userns /proc/42/ns/user'));
  const some = pastaArgs({ ...base, ports: [...parsePublish('127.0.0.1:8000-8001:80-81'), ...parsePublish('[::1]:53:53/udp')] });
  assert.ok(some.join(' ').includes('-t 127.0.0.1/8000-8001:80-81 -u ::1/53:53'));
});

test.run();
