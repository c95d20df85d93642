// Starts Debian's docker-registry (the CNCF distribution server) on
// 127.0.0.1 with an ephemeral port, storing in a temporary directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTimeout } from './timeout.js';

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Path of an htpasswd file (bcrypt) to require basic auth. */
  htpasswd?: string;
}

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-registry-'));
  const auth = options.htpasswd
    ? `auth:\n  htpasswd:\n    realm: tsbox-test\n    path: ${options.htpasswd}\n`
    : '';
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
  secret: tsbox-test-secret
${auth}`,
  );
  const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const host = await withTimeout(
    new Promise<string>((resolve, reject) => {
      let buffered = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        buffered += chunk;
        const match = /listening on (127\.0\.0\.1:\d+)/.exec(buffered);
        if (match) resolve(match[1]!);
        if (buffered.length > 1 << 20) buffered = buffered.slice(-4096);
      });
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`docker-registry exited with ${code}: ${buffered.slice(-2000)}`)));
    }),
    15_000,
    'docker-registry to listen',
  );
  // Keep draining its log so the pipe never fills.
  child.stderr!.resume();
  return {
    host,
    url: `http://${host}`,
    dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await withTimeout(exited, 10_000, 'docker-registry to stop').catch(() => child.kill('SIGKILL'));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
