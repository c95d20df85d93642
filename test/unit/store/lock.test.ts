import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock, withLock, StoreLockTimeoutError } from '../../../core/store/lock.js';
import { runProgram } from '../../lib/tsbox.js';
import { withTimeout } from '../../lib/timeout.js';

const WORKER = fileURLToPath(new URL('./lock-worker.js', import.meta.url));
let dir = '';

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbox-lock-'));
});
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a worker that takes the lock and keeps it; resolves once it holds it. */
async function startHolder(lockPath: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER, 'hold', lockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => b.toString().includes('held') && resolve());
      child.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
    }),
    10_000,
    'the holder to take the lock',
  );
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await withTimeout(exited, 5_000, 'the holder to die');
}

test('several processes incrementing a counter under the lock lose no update', async () => {
  const lockPath = join(dir, 'store.lock');
  const counter = join(dir, 'counter');
  writeFileSync(counter, '0');
  const workers = 6;
  const each = 25;
  const runs = Array.from({ length: workers }, () =>
    runProgram(process.execPath, [WORKER, 'increment', lockPath, counter, String(each)], { timeoutMs: 60_000 }),
  );
  const results = await Promise.all(runs);
  for (const r of results) assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(counter, 'utf8'), String(workers * each));
  assert.not.ok(existsSync(lockPath), 'the lock is released at the end');
  assert.equal(readdirSync(dir).sort(), ['counter'], 'no temp file is left');
});

test('a holder killed with SIGKILL leaves a stale lock that the waiters take over, one at a time', async () => {
  const lockPath = join(dir, 'store.lock');
  const counter = join(dir, 'counter');
  writeFileSync(counter, '0');
  const holder = await startHolder(lockPath);
  const waiters = Array.from({ length: 4 }, () =>
    runProgram(process.execPath, [WORKER, 'increment', lockPath, counter, '5'], { timeoutMs: 60_000 }),
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.is(readFileSync(counter, 'utf8'), '0', 'nobody got in while the holder lived');
  await kill9(holder);
  const results = await Promise.all(waiters);
  for (const r of results) assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(counter, 'utf8'), '20');
});

test('a lock whose pid now belongs to another process (different start time) is stale', async () => {
  const lockPath = join(dir, 'store.lock');
  // Our own pid with a start time that is not ours: pid reuse.
  writeFileSync(lockPath, `${process.pid} 1 0123456789abcdef\n`);
  const lock = await withTimeout(acquireLock(lockPath, { timeoutMs: 2_000 }), 5_000, 'the lock');
  assert.ok(readFileSync(lockPath, 'utf8').startsWith(`${process.pid} `));
  assert.is.not(readFileSync(lockPath, 'utf8'), `${process.pid} 1 0123456789abcdef\n`);
  await lock.release();
  assert.not.ok(existsSync(lockPath));
});

test('waiting for a live holder longer than the timeout fails with the holder pid in the message', async () => {
  const lockPath = join(dir, 'store.lock');
  const holder = await startHolder(lockPath);
  try {
    const started = Date.now();
    const err = await withTimeout(
      withLock(lockPath, async () => 'got it', { timeoutMs: 1_000 }).then(
        () => undefined,
        (e: unknown) => e,
      ),
      10_000,
      'the timeout',
    );
    assert.instance(err, StoreLockTimeoutError);
    assert.is((err as Error).message, `store locked by another tsbox process (pid ${holder.pid}) for more than 1s: ${lockPath}`);
    assert.ok(Date.now() - started >= 1_000);
    assert.ok(existsSync(lockPath), 'the live holder keeps its lock');
  } finally {
    await kill9(holder);
  }
});

test('the lock is released when the function throws', async () => {
  const lockPath = join(dir, 'store.lock');
  await withLock(lockPath, async () => {
    throw new Error('boom');
  }).catch(() => {});
  assert.not.ok(existsSync(lockPath));
  assert.is(await withLock(lockPath, async () => 42, { timeoutMs: 500 }), 42);
});

test.run();
