import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RegistriesConfError,
  RegistryBlockedError,
  loadRegistriesConf,
  pullSources,
  resolveShortName,
  type RegistriesConf,
} from '../../../core/config/registries.js';
import { formatReference, parseReference } from '../../../core/reference/index.js';

const ENV_KEYS = ['CONTAINERS_REGISTRIES_CONF', 'XDG_CONFIG_HOME', 'HOME'] as const;
let saved: Record<string, string | undefined> = {};
let dir = '';

test.before.each(() => {
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  dir = mkdtempSync(join(tmpdir(), 'tsbox-registries-'));
  // never let the developer's own configuration leak into a test
  process.env.XDG_CONFIG_HOME = join(dir, 'config');
  process.env.HOME = join(dir, 'home');
  delete process.env.CONTAINERS_REGISTRIES_CONF;
});

test.after.each(() => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  rmSync(dir, { recursive: true, force: true });
});

function confFile(text: string, name = 'registries.conf'): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  process.env.CONTAINERS_REGISTRIES_CONF = path;
  return path;
}

function load(text: string): RegistriesConf {
  confFile(text);
  return loadRegistriesConf();
}

function candidates(input: string, conf: RegistriesConf): string[] {
  return resolveShortName(input, conf).map(formatReference);
}

test('short names resolve to docker.io alone when no search registries are configured', () => {
  const conf = load('');
  assert.equal(candidates('alpine', conf), ['docker.io/library/alpine:latest']);
  assert.equal(candidates('user/app:1', conf), ['docker.io/user/app:1']);
});

test('the user file under XDG_CONFIG_HOME is read when CONTAINERS_REGISTRIES_CONF is unset', () => {
  mkdirSync(join(dir, 'config', 'containers'), { recursive: true });
  writeFileSync(join(dir, 'config', 'containers', 'registries.conf'), 'unqualified-search-registries = ["quay.io"]\n');
  const conf = loadRegistriesConf();
  assert.is(conf.path, join(dir, 'config', 'containers', 'registries.conf'));
  assert.equal(conf.unqualifiedSearchRegistries, ['quay.io']);
});

test('a file named by CONTAINERS_REGISTRIES_CONF that does not exist is an error naming it', () => {
  process.env.CONTAINERS_REGISTRIES_CONF = join(dir, 'missing.conf');
  assert.throws(() => loadRegistriesConf(), (err: unknown) => err instanceof RegistriesConfError && err.message.includes('missing.conf'));
});

test('short names are tried on each unqualified-search registry in order', () => {
  const conf = load('unqualified-search-registries = ["quay.io", "localhost:5000", "docker.io"]\n');
  assert.equal(candidates('alpine:3', conf), ['quay.io/alpine:3', 'localhost:5000/alpine:3', 'docker.io/library/alpine:3']);
});

test('a fully-qualified name is its own only candidate', () => {
  const conf = load('unqualified-search-registries = ["quay.io"]\n');
  assert.equal(candidates('ghcr.io/a/b:1', conf), ['ghcr.io/a/b:1']);
});

test('an alias wins over the search registries and keeps the typed tag or digest', () => {
  const digest = `sha256:${'c'.repeat(64)}`;
  const conf = load(`
unqualified-search-registries = ["quay.io", "docker.io"]
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"tools/box" = "localhost:5000/team/box"
`);
  assert.equal(candidates('fedora', conf), ['registry.fedoraproject.org/fedora:latest']);
  assert.equal(candidates('fedora:39', conf), ['registry.fedoraproject.org/fedora:39']);
  assert.equal(candidates(`fedora@${digest}`, conf), [`registry.fedoraproject.org/fedora@${digest}`]);
  assert.equal(candidates('tools/box', conf), ['localhost:5000/team/box:latest']);
  assert.equal(candidates('alpine', conf), ['quay.io/alpine:latest', 'docker.io/library/alpine:latest']);
});

test('an alias that is not a short name or points to a short name is refused', () => {
  assert.throws(() => load('[aliases]\n"quay.io/x" = "quay.io/y"\n'), /alias "quay.io\/x" must be a short name/);
  assert.throws(() => load('[aliases]\n"x" = "y"\n'), /must point to a fully-qualified name/);
  assert.throws(() => load('[aliases]\n"x" = "quay.io/y:1"\n'), /without tag or digest/);
});

test('a reference no entry matches is pulled from its own registry', () => {
  const conf = load('[[registry]]\nlocation = "quay.io"\ninsecure = true\n');
  assert.equal(pullSources(parseReference('alpine'), conf), [
    { registry: 'docker.io', repository: 'library/alpine', insecure: false, mirror: false },
  ]);
});

test('mirrors come first, a mirror location with a path rewrites the repository', () => {
  const conf = load(`
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:5000/cache"
insecure = true
[[registry.mirror]]
location = "mirror.example.com"
`);
  assert.equal(pullSources(parseReference('alpine'), conf), [
    { registry: '127.0.0.1:5000', repository: 'cache/library/alpine', insecure: true, mirror: true },
    { registry: 'mirror.example.com', repository: 'library/alpine', insecure: false, mirror: true },
    { registry: 'docker.io', repository: 'library/alpine', insecure: false, mirror: false },
  ]);
});

test('a location without a prefix matches as its own prefix, and a prefix with a path remaps a namespace', () => {
  const conf = load(`
[[registry]]
location = "registry.example.com:5000"
insecure = true

[[registry]]
prefix = "example.com/team"
location = "internal.example.com/mirrors/team"
`);
  assert.equal(pullSources(parseReference('registry.example.com:5000/a/b:1'), conf), [
    { registry: 'registry.example.com:5000', repository: 'a/b', insecure: true, mirror: false },
  ]);
  assert.equal(pullSources(parseReference('example.com/team/app'), conf), [
    { registry: 'internal.example.com', repository: 'mirrors/team/app', insecure: false, mirror: false },
  ]);
  // 'example.com/teams' is not under the 'example.com/team' prefix
  assert.equal(pullSources(parseReference('example.com/teams/app'), conf)[0]!.registry, 'example.com');
});

test('the longest matching prefix wins', () => {
  const conf = load(`
[[registry]]
prefix = "example.com"
location = "a.example.net"
[[registry]]
prefix = "example.com/special"
location = "b.example.net/s"
`);
  assert.equal(pullSources(parseReference('example.com/special/x'), conf)[0], {
    registry: 'b.example.net', repository: 's/x', insecure: false, mirror: false,
  });
  assert.equal(pullSources(parseReference('example.com/other/x'), conf)[0], {
    registry: 'a.example.net', repository: 'other/x', insecure: false, mirror: false,
  });
});

test('a wildcard prefix matches subdomains only, and its mirrors replace the host', () => {
  const conf = load(`
[[registry]]
prefix = "*.example.com"
insecure = true
[[registry.mirror]]
location = "cache.local:5000/wild"
`);
  assert.equal(pullSources(parseReference('foo.example.com/a/b'), conf), [
    { registry: 'cache.local:5000', repository: 'wild/a/b', insecure: false, mirror: true },
    { registry: 'foo.example.com', repository: 'a/b', insecure: true, mirror: false },
  ]);
  assert.equal(pullSources(parseReference('bar.foo.example.com:5000/a'), conf)[1], {
    registry: 'bar.foo.example.com:5000', repository: 'a', insecure: true, mirror: false,
  });
  // neither the bare domain nor a host that merely ends in the same letters
  assert.equal(pullSources(parseReference('example.com/a'), conf).length, 1);
  assert.equal(pullSources(parseReference('badexample.com/a'), conf).length, 1);
  assert.equal(pullSources(parseReference('other.com/x.example.com/a'), conf).length, 1);
});

test('a wildcard prefix with a port or path is refused', () => {
  assert.throws(() => load('[[registry]]\nprefix = "*.example.com:5000"\n'), /wildcarded prefix/);
});

test('a blocked registry throws, naming the registry and the file', () => {
  const path = confFile('[[registry]]\nlocation = "docker.io"\nblocked = true\n');
  const conf = loadRegistriesConf();
  try {
    pullSources(parseReference('alpine'), conf);
    assert.unreachable('pull from a blocked registry was allowed');
  } catch (err) {
    assert.instance(err, RegistryBlockedError);
    assert.is((err as RegistryBlockedError).message, `registry docker.io is blocked in ${path}`);
    assert.is((err as RegistryBlockedError).exitCode, 125);
  }
});

test('mirror-by-digest-only and pull-from-mirror limit which pulls use a mirror', () => {
  const digest = `sha256:${'d'.repeat(64)}`;
  const conf = load(`
[[registry]]
location = "quay.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m1.local"

[[registry]]
location = "ghcr.io"
[[registry.mirror]]
location = "digests.local"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tags.local"
pull-from-mirror = "tag-only"
`);
  const hosts = (input: string) => pullSources(parseReference(input), conf).map((s) => s.registry);
  assert.equal(hosts('quay.io/a:1'), ['quay.io']);
  assert.equal(hosts(`quay.io/a@${digest}`), ['m1.local', 'quay.io']);
  assert.equal(hosts('ghcr.io/a:1'), ['tags.local', 'ghcr.io']);
  assert.equal(hosts(`ghcr.io/a@${digest}`), ['digests.local', 'ghcr.io']);
});

test('malformed TOML is an error naming the file and the line', () => {
  const path = confFile('unqualified-search-registries = ["quay.io"]\n\n[[registry]\nlocation = "x"\n', 'broken.conf');
  try {
    loadRegistriesConf();
    assert.unreachable('malformed TOML was accepted');
  } catch (err) {
    assert.instance(err, RegistriesConfError);
    const message = (err as RegistriesConfError).message;
    assert.ok(message.startsWith(`parsing ${path}: line 3: `), message);
    assert.not.ok(message.includes('\n'), 'the message is one line');
  }
});

test('wrong value types and URL schemes in locations are refused with the file name', () => {
  assert.throws(() => load('unqualified-search-registries = "quay.io"\n'), /registries\.conf: unqualified-search-registries must be an array/);
  assert.throws(() => load('[[registry]]\nlocation = "https://quay.io"\n'), /URI schemes are not supported/);
  assert.throws(() => load('[[registry]]\nlocation = "quay.io"\ninsecure = "yes"\n'), /insecure must be true or false/);
  assert.throws(() => load('[[registry]]\ninsecure = true\n'), /both location and prefix are unset/);
  assert.throws(() => load('unqualified-search-registries = ["not a host"]\n'), /invalid unqualified-search-registries entry/);
});

test('the same location with conflicting insecure settings is refused', () => {
  assert.throws(
    () => load('[[registry]]\nprefix = "a.com/x"\nlocation = "r.com"\n[[registry]]\nprefix = "a.com/y"\nlocation = "r.com"\ninsecure = true\n'),
    /registry 'r.com' is defined multiple times with conflicting 'insecure' setting/,
  );
});

test('drop-in files beside the main file override it in name order', () => {
  confFile('unqualified-search-registries = ["quay.io"]\n[[registry]]\nlocation = "quay.io"\nblocked = true\n');
  mkdirSync(join(dir, 'registries.conf.d'));
  writeFileSync(join(dir, 'registries.conf.d', '10-search.conf'), 'unqualified-search-registries = ["a.local"]\n');
  writeFileSync(join(dir, 'registries.conf.d', '20-search.conf'), 'unqualified-search-registries = ["b.local", "c.local"]\n');
  writeFileSync(join(dir, 'registries.conf.d', '30-unblock.conf'), '[[registry]]\nlocation = "quay.io"\n');
  writeFileSync(join(dir, 'registries.conf.d', 'ignored.txt'), 'this is not TOML [');
  const conf = loadRegistriesConf();
  assert.equal(conf.unqualifiedSearchRegistries, ['b.local', 'c.local']);
  assert.equal(pullSources(parseReference('quay.io/a'), conf)[0]!.registry, 'quay.io');
});

test('v1 [registries.search] and [registries.block] lists still work', () => {
  const conf = load('[registries.search]\nregistries = ["quay.io"]\n[registries.block]\nregistries = ["evil.example.com"]\n');
  assert.equal(candidates('alpine', conf), ['quay.io/alpine:latest']);
  assert.throws(() => pullSources(parseReference('evil.example.com/x'), conf), /registry evil.example.com is blocked/);
});

test.run();
