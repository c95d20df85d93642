// `tsbox login` / `tsbox logout` as a user runs them, against a real
// htpasswd-protected docker-registry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { runTsbox, tempStore } from '../lib/tsbox.js';

let registry: TestRegistry;
let store: ReturnType<typeof tempStore>;

test.before(async () => {
  store = tempStore();
  const htpasswd = join(store.root, 'htpasswd');
  writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', 'alice', 'correct horse'], { timeout: 10_000 }));
  registry = await startRegistry({ htpasswd });
});

test.after(async () => {
  await registry?.stop();
  store?.cleanup();
});

const authFile = () => store.env.REGISTRY_AUTH_FILE!;
const run = (args: string[], input?: string) => runTsbox(args, { env: store.env, input, timeoutMs: 60_000 });

test('a pull without credentials from a registry that wants them: one line naming the login to run, exit 125', async () => {
  const anonymous = tempStore();
  writeFileSync(anonymous.env.CONTAINERS_REGISTRIES_CONF!, '');
  try {
    const r = await runTsbox(['pull', '-q', '--tls-verify=false', `${registry.host}/library/busybox`], { env: anonymous.env, timeoutMs: 60_000 });
    assert.is(r.code, 125);
    assert.is(r.stdout, '');
    assert.is(r.stderr, `Error: authentication required for ${registry.host}: run tsbox login ${registry.host}\n`);
  } finally {
    anonymous.cleanup();
  }
});

test('without XDG_RUNTIME_DIR (su, sudo, cron): login keeps the credentials in the /tmp fallback, and pull finds them there', async () => {
  const anonymous = tempStore();
  writeFileSync(anonymous.env.CONTAINERS_REGISTRIES_CONF!, '');
  // the user's own fallback runtime directory: what login writes there, logout removes again
  const env = { ...anonymous.env, XDG_RUNTIME_DIR: '', REGISTRY_AUTH_FILE: '' };
  try {
    const login = await runTsbox(['login', '--tls-verify=false', '-u', 'alice', '--password-stdin', registry.host], { env, input: 'correct horse\n', timeoutMs: 60_000 });
    assert.is(login.code, 0, login.stderr);
    assert.ok(existsSync(`/tmp/tsbox-run-${process.getuid!()}/containers/auth.json`));
    // pull runs again inside the user namespace, as uid 0 there: the same fallback, not /tmp/tsbox-run-0
    const pull = await runTsbox(['pull', '-q', '--tls-verify=false', `${registry.host}/library/busybox`], { env, timeoutMs: 120_000 });
    assert.is(pull.stderr.includes('authentication required'), false, pull.stderr);
  } finally {
    await runTsbox(['logout', registry.host], { env, timeoutMs: 30_000 });
    anonymous.cleanup();
  }
});

test('login with the right password says so and writes auth.json with mode 0600', async () => {
  const r = await run(['login', '--tls-verify=false', '-u', 'alice', '--password-stdin', registry.host], 'correct horse\n');
  assert.is(r.stderr, '');
  assert.is(r.code, 0);
  assert.is(r.stdout, 'Login Succeeded!\n');
  assert.is(statSync(authFile()).mode & 0o777, 0o600);
  const saved = JSON.parse(readFileSync(authFile(), 'utf8'));
  assert.equal(saved.auths[registry.host], { auth: Buffer.from('alice:correct horse').toString('base64') });
});

test('login with a wrong password fails with one line, exit 125, and stores nothing', async () => {
  const before = readFileSync(authFile(), 'utf8');
  const r = await run(['login', '--tls-verify=false', '-u', 'alice', '-p', 'wrong horse', registry.host]);
  assert.is(r.code, 125);
  assert.is(r.stdout, '');
  assert.is(r.stderr, `Error: invalid username or password for ${registry.host}\n`);
  assert.is(readFileSync(authFile(), 'utf8'), before);
});

test('login without a username on a non-terminal fails instead of waiting', async () => {
  const r = await run(['login', '--tls-verify=false', registry.host]);
  assert.is(r.code, 125);
  assert.match(r.stderr, /^Error: no username given and standard input is not a terminal/);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

test('--authfile writes to the file it names', async () => {
  const other = join(store.root, 'elsewhere', 'auth.json');
  const r = await run(['login', '--tls-verify=false', '--authfile', other, '-u', 'alice', '--password-stdin', registry.host], 'correct horse');
  assert.is(r.code, 0, r.stderr);
  assert.ok(JSON.parse(readFileSync(other, 'utf8')).auths[registry.host]);
});

test('logout removes the entry, and a second logout says it is not logged in', async () => {
  const r = await run(['logout', registry.host]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `Removed login credentials for ${registry.host}\n`);
  assert.ok(existsSync(authFile()));
  assert.is(JSON.parse(readFileSync(authFile(), 'utf8')).auths[registry.host], undefined);

  const again = await run(['logout', registry.host]);
  assert.is(again.code, 125);
  assert.is(again.stderr, `Error: not logged into ${registry.host}\n`);
});

test('logout --all empties the auth file', async () => {
  const login = await run(['login', '--tls-verify=false', '-u', 'alice', '--password-stdin', registry.host], 'correct horse');
  assert.is(login.code, 0, login.stderr);
  const r = await run(['logout', '--all']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(authFile(), 'utf8')).auths, {});
});

test.run();
