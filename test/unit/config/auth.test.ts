import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthFileError,
  authFilePath,
  getCredentials,
  removeAllCredentials,
  removeCredentials,
  saveCredentials,
} from '../../../core/config/auth.js';

const ENV_KEYS = ['REGISTRY_AUTH_FILE', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'HOME', 'DOCKER_CONFIG'] as const;
let saved: Record<string, string | undefined> = {};
let dir = '';

test.before.each(() => {
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  dir = mkdtempSync(join(tmpdir(), 'tsbox-auth-'));
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = join(dir, 'run');
  process.env.XDG_CONFIG_HOME = join(dir, 'config');
  process.env.HOME = join(dir, 'home');
  delete process.env.REGISTRY_AUTH_FILE;
  delete process.env.DOCKER_CONFIG;
});

test.after.each(() => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  rmSync(dir, { recursive: true, force: true });
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

function writeJson(path: string, value: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(value));
}

test('the auth file is under XDG_RUNTIME_DIR, or REGISTRY_AUTH_FILE when set', () => {
  assert.is(authFilePath(), join(dir, 'run', 'containers', 'auth.json'));
  process.env.REGISTRY_AUTH_FILE = join(dir, 'mine.json');
  assert.is(authFilePath(), join(dir, 'mine.json'));
});

test('without XDG_RUNTIME_DIR the auth file is in the private runtime fallback', () => {
  delete process.env.XDG_RUNTIME_DIR;
  assert.is(authFilePath(), join('/tmp', `tsbox-run-${process.getuid!()}`, 'containers', 'auth.json'));
});

test('saved credentials are read back, in the format podman writes', () => {
  saveCredentials('localhost:5000', { username: 'alice', password: 'p:a:s:s' });
  assert.equal(getCredentials('localhost:5000'), { username: 'alice', password: 'p:a:s:s' });
  const file = JSON.parse(readFileSync(authFilePath(), 'utf8'));
  assert.equal(file, { auths: { 'localhost:5000': { auth: b64('alice:p:a:s:s') } } });
  assert.is(getCredentials('other.example.com'), undefined);
});

test('the auth file is written with mode 0600 in a directory created 0700, and no temporary file is left', () => {
  saveCredentials('quay.io', { username: 'u', password: 'p' });
  saveCredentials('ghcr.io', { username: 'u2', password: 'p2' });
  assert.is(statSync(authFilePath()).mode & 0o777, 0o600);
  assert.is(statSync(join(dir, 'run', 'containers')).mode & 0o777, 0o700);
  assert.equal(readdirSync(join(dir, 'run', 'containers')), ['auth.json']);
});

test('saving keeps other registries and other top-level keys untouched', () => {
  writeJson(authFilePath(), {
    auths: { 'quay.io': { auth: b64('q:1') }, 'docker.io': { auth: b64('d:2') } },
    credHelpers: { 'gcr.io': 'gcloud' },
  });
  saveCredentials('docker.io', { username: 'new', password: 'secret' });
  const file = JSON.parse(readFileSync(authFilePath(), 'utf8'));
  assert.equal(file, {
    auths: { 'quay.io': { auth: b64('q:1') }, 'docker.io': { auth: b64('new:secret') } },
    credHelpers: { 'gcr.io': 'gcloud' },
  });
});

test('removing one registry keeps the others, and says whether there was anything to remove', () => {
  saveCredentials('quay.io', { username: 'q', password: '1' });
  saveCredentials('ghcr.io', { username: 'g', password: '2' });
  assert.is(removeCredentials('quay.io'), true);
  assert.is(removeCredentials('quay.io'), false);
  assert.is(getCredentials('quay.io'), undefined);
  assert.equal(getCredentials('ghcr.io'), { username: 'g', password: '2' });
});

test('removing docker.io also removes docker\'s URL spelling of it', () => {
  writeJson(authFilePath(), { auths: { 'https://index.docker.io/v1/': { auth: b64('d:1') }, 'quay.io': { auth: b64('q:1') } } });
  assert.is(removeCredentials('docker.io'), true);
  assert.equal(Object.keys(JSON.parse(readFileSync(authFilePath(), 'utf8')).auths), ['quay.io']);
});

test('removing all credentials empties auths and keeps the rest of the file', () => {
  writeJson(authFilePath(), { auths: { 'quay.io': { auth: b64('q:1') } }, other: 1 });
  removeAllCredentials();
  assert.equal(JSON.parse(readFileSync(authFilePath(), 'utf8')), { auths: {}, other: 1 });
});

test('the persistent XDG_CONFIG_HOME auth file is read after the runtime one', () => {
  writeJson(join(dir, 'config', 'containers', 'auth.json'), {
    auths: { 'quay.io': { auth: b64('persistent:1') }, 'ghcr.io': { auth: b64('persistent:2') } },
  });
  saveCredentials('quay.io', { username: 'runtime', password: '1' });
  assert.equal(getCredentials('quay.io'), { username: 'runtime', password: '1' });
  assert.equal(getCredentials('ghcr.io'), { username: 'persistent', password: '2' });
});

test('docker\'s config.json is the last fallback, with its URL key for docker.io', () => {
  writeJson(join(dir, 'home', '.docker', 'config.json'), {
    auths: { 'https://index.docker.io/v1/': { auth: b64('dockeruser:pw') } },
    credsStore: 'desktop',
  });
  assert.equal(getCredentials('docker.io'), { username: 'dockeruser', password: 'pw' });
  process.env.DOCKER_CONFIG = join(dir, 'elsewhere');
  assert.is(getCredentials('docker.io'), undefined);
});

test('entries without an auth value (credential helpers) are skipped, not an error', () => {
  writeJson(join(dir, 'home', '.docker', 'config.json'), {
    auths: { 'quay.io': {} },
    credHelpers: { 'quay.io': 'secretservice' },
  });
  assert.is(getCredentials('quay.io'), undefined);
});

test('namespaced keys match their registry, and the most specific one wins for a repository', () => {
  writeJson(authFilePath(), {
    auths: {
      'quay.io/org': { auth: b64('org:1') },
      'quay.io/org/app': { auth: b64('app:2') },
      'quay.io': { auth: b64('plain:3') },
      'ghcr.io/team': { auth: b64('team:4') },
    },
  });
  assert.equal(getCredentials('quay.io', 'org/app/sub'), { username: 'app', password: '2' });
  assert.equal(getCredentials('quay.io', 'org/other'), { username: 'org', password: '1' });
  assert.equal(getCredentials('quay.io', 'someone/else'), { username: 'plain', password: '3' });
  assert.equal(getCredentials('quay.io'), { username: 'plain', password: '3' });
  assert.equal(getCredentials('ghcr.io'), { username: 'team', password: '4' });
  assert.is(getCredentials('ghcr.io', 'other/x'), undefined);
});

test('REGISTRY_AUTH_FILE is the only file read when set', () => {
  writeJson(join(dir, 'config', 'containers', 'auth.json'), { auths: { 'quay.io': { auth: b64('persistent:1') } } });
  process.env.REGISTRY_AUTH_FILE = join(dir, 'custom', 'auth.json');
  assert.is(getCredentials('quay.io'), undefined);
  saveCredentials('quay.io', { username: 'custom', password: 'x' });
  assert.equal(getCredentials('quay.io'), { username: 'custom', password: 'x' });
  assert.ok(statSync(join(dir, 'custom', 'auth.json')).isFile());
});

test('a broken auth file is an error naming the file', () => {
  mkdirSync(join(dir, 'run', 'containers'), { recursive: true });
  writeFileSync(authFilePath(), '{"auths": {');
  assert.throws(
    () => getCredentials('quay.io'),
    (err: unknown) => err instanceof AuthFileError && err.message.startsWith(`reading ${authFilePath()}: not valid JSON`),
  );
});

test.run();
