import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostGatewayAddress, hostnameFile, hostsFile, parseAddHost, resolvConf, type HostAddress } from '../../../core/network/files.js';

test('hosts: localhost, the container, host.containers.internal', () => {
  assert.is(
    hostsFile({ hostname: 'web', name: 'web-1', containerIp: '10.0.2.100', hostGateway: '192.168.1.5' }),
    '127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n' +
      '::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n' +
      '10.0.2.100\tweb web-1\n' +
      '192.168.1.5\thost.containers.internal host.docker.internal\n',
  );
});

test('hosts: --add-host entries first; no address means 127.0.1.1; no gateway means no entry', () => {
  const text = hostsFile({ hostname: 'box', addHosts: ['db:10.1.2.3', 'v6:[fe80::1]', 'a;b=10.0.0.1'] });
  const lines = text.trim().split('\n');
  assert.equal(lines.slice(0, 3), ['10.1.2.3\tdb', 'fe80::1\tv6', '10.0.0.1\ta b']);
  assert.ok(lines.includes('127.0.1.1\tbox'));
  assert.not.match(text, /host\.containers\.internal/);
});

test('hosts: host-gateway and invalid --add-host values', () => {
  assert.equal(parseAddHost('h:host-gateway', '10.0.2.2'), { names: ['h'], ip: '10.0.2.2' });
  assert.throws(() => parseAddHost('h:host-gateway'), /no address for the host/);
  assert.throws(() => parseAddHost('db'), /expected HOST:IP/);
  assert.throws(() => parseAddHost('db:10.0.0'), /invalid IP address "10.0.0"/);
  assert.throws(() => parseAddHost('bad name:10.0.0.1'), /invalid host name "bad name"/);
  assert.throws(() => hostsFile({ hostname: 'x', addHosts: ['-x:1.2.3.4'] }), /invalid host name/);
});

test('hostname', () => assert.is(hostnameFile('abc123'), 'abc123\n'));

const HOST = '# generated\nsearch example.com corp\nnameserver 192.168.1.1\nnameserver 127.0.0.53\noptions edns0 trust-ad\n';
const STUB = 'nameserver 127.0.0.53\noptions edns0\nsearch lan\n';
const UPSTREAM = 'nameserver 192.168.1.1\nnameserver 9.9.9.9\n';

test('resolv.conf with slirp4netns: its DNS forwarder, the host search and options', () => {
  assert.is(
    resolvConf({ network: 'slirp4netns', hostResolvConf: HOST }),
    'search example.com corp\nnameserver 10.0.2.3\noptions edns0 trust-ad\n',
  );
});

test('resolv.conf with pasta: the host nameservers a netns can reach, loopback ones dropped', () => {
  assert.is(resolvConf({ network: 'pasta', hostResolvConf: HOST }), 'search example.com corp\nnameserver 192.168.1.1\noptions edns0 trust-ad\n');
});

test('resolv.conf: a systemd-resolved stub is replaced by its upstream servers, else by pasta\'s forwarder', () => {
  assert.is(
    resolvConf({ network: 'pasta', hostResolvConf: STUB, upstreamResolvConf: UPSTREAM }),
    'search lan\nnameserver 192.168.1.1\nnameserver 9.9.9.9\noptions edns0\n',
  );
  assert.is(resolvConf({ network: 'pasta', hostResolvConf: STUB }), 'search lan\nnameserver 169.254.1.1\noptions edns0\n');
});

test('resolv.conf with the host network: the host file as it is', () => {
  assert.is(resolvConf({ network: 'host', hostResolvConf: STUB }), STUB);
});

test('resolv.conf: --dns, --dns-search and --dns-option replace the host values', () => {
  assert.is(
    resolvConf({ network: 'slirp4netns', hostResolvConf: HOST, dns: ['1.1.1.1', '2606:4700::1111'], dnsSearch: ['.'], dnsOption: ['ndots:2'] }),
    'nameserver 1.1.1.1\nnameserver 2606:4700::1111\noptions ndots:2\n',
  );
  assert.throws(() => resolvConf({ network: 'pasta', hostResolvConf: HOST, dns: ['dns.google'] }), /invalid --dns "dns.google"/);
});

const addresses: HostAddress[] = [
  { address: '127.0.0.1', family: 'IPv4', internal: true, device: 'lo' },
  { address: '192.168.1.5', family: 'IPv4', internal: false, device: 'eth0' },
  { address: '10.8.0.2', family: 'IPv4', internal: false, device: 'wg0' },
];

test('host.containers.internal as podman points it', () => {
  assert.is(hostGatewayAddress('slirp4netns', addresses), '192.168.1.5');
  assert.is(hostGatewayAddress('slirp4netns', addresses, { allowHostLoopback: true }), '10.0.2.2');
  assert.is(hostGatewayAddress('pasta', addresses, { defaultRouteDevice: 'eth0' }), '10.8.0.2');
  assert.is(hostGatewayAddress('pasta', addresses.slice(0, 2), { defaultRouteDevice: 'eth0' }), undefined);
  assert.is(hostGatewayAddress('none', addresses), undefined);
});

test.run();
