// A separate process for the lock tests (not a test file itself):
//   node lock-worker.js increment LOCK COUNTER N   adds 1 to COUNTER N times, each under the lock
//   node lock-worker.js hold LOCK                  takes the lock, prints "held", waits to be killed
import { readFileSync, writeFileSync } from 'node:fs';
import { acquireLock, withLock } from '../../../core/store/lock.js';

const [mode, lockPath, counterPath, times] = process.argv.slice(2);

if (mode === 'increment') {
  for (let i = 0; i < Number(times); i++) {
    await withLock(lockPath!, async () => {
      const value = Number(readFileSync(counterPath!, 'utf8'));
      // Give the other processes every chance to interleave: without the lock, updates get lost.
      await new Promise((r) => setTimeout(r, 1));
      writeFileSync(counterPath!, String(value + 1));
    }, { timeoutMs: 30_000 });
  }
} else if (mode === 'hold') {
  await acquireLock(lockPath!);
  process.stdout.write('held\n');
  setInterval(() => {}, 60_000);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exitCode = 2;
}
