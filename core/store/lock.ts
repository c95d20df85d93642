// The store lock, shared by every tsbox process of one user. Node has no
// flock(2), so the lock is a file created atomically (link(2) of a finished
// temp file, which fails with EEXIST when it exists) that names its holder by
// pid and start time. A waiter polls with backoff; a lock whose holder is
// dead is stale and is broken under a second-level lock, so that two waiters
// that both judged it stale cannot both break it (the second would otherwise
// delete the lock the first has just taken).
import { promises as fs } from 'node:fs';
import { randomHex } from '../random.js';
import { TsboxError } from '../errors.js';
import { tempNameFor } from './atomic.js';
import { currentOwner, isOwnerAlive, type Owner } from './owner.js';

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
/** A break lock is held for microseconds; one this old was left by a breaker that died. */
const BREAK_LOCK_STALE_MS = 10_000;
const MAX_BACKOFF_MS = 100;

export class StoreLockTimeoutError extends TsboxError {}

export interface LockOptions {
  /** How long to wait for a live holder; default 60 s, or $TSBOX_LOCK_TIMEOUT seconds. */
  timeoutMs?: number;
}

export interface HeldLock {
  path: string;
  release(): Promise<void>;
}

interface Holder extends Owner {
  content: string;
}

function parseHolder(content: string): Holder | undefined {
  const match = /^(\d+) (\d+) \S+\n$/.exec(content);
  if (!match) return undefined;
  return { pid: Number(match[1]), startTime: match[2]!, content };
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function defaultTimeout(): number {
  const fromEnv = Number(process.env.TSBOX_LOCK_TIMEOUT);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv * 1000 : DEFAULT_LOCK_TIMEOUT_MS;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Removes the lock at `path` if it still holds exactly `staleContent`. Returns
 * false when another waiter is breaking it right now (the caller waits and retries).
 */
async function breakStaleLock(path: string, staleContent: string, ownContent: string): Promise<boolean> {
  const breakPath = `${path}.break`;
  try {
    await fs.writeFile(breakPath, ownContent, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const stat = await fs.stat(breakPath).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > BREAK_LOCK_STALE_MS) await fs.rm(breakPath, { force: true });
    return false;
  }
  try {
    // Nobody else can be breaking now, and a live process cannot create the
    // lock while the stale file is there: the content check is race-free.
    if ((await readOrUndefined(path)) === staleContent) await fs.rm(path, { force: true });
  } finally {
    await fs.rm(breakPath, { force: true });
  }
  return true;
}

/** Takes the lock file at `path`, waiting for a live holder at most `timeoutMs`. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? defaultTimeout();
  const deadline = Date.now() + timeoutMs;
  const { pid, startTime } = currentOwner();
  const content = `${pid} ${startTime} ${randomHex(8)}\n`;
  // The content is complete before the lock appears: a waiter never reads an empty lock.
  const temp = tempNameFor(path);
  await fs.writeFile(temp, content, { flag: 'wx' });
  let backoff = 2;
  try {
    for (;;) {
      try {
        await fs.link(temp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const existing = await readOrUndefined(path);
      if (existing === undefined) continue; // released meanwhile
      const holder = parseHolder(existing);
      if (!holder || !isOwnerAlive(holder)) {
        if (await breakStaleLock(path, existing, content)) continue;
      } else if (Date.now() > deadline) {
        throw new StoreLockTimeoutError(
          `store locked by another tsbox process (pid ${holder.pid}) for more than ${Math.round(timeoutMs / 1000)}s: ${path}`,
          { hint: 'wait for it to finish or stop it, or set TSBOX_LOCK_TIMEOUT=SECONDS to wait longer' },
        );
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  } finally {
    await fs.rm(temp, { force: true });
  }
  return {
    path,
    async release() {
      // Only ever remove our own lock, never one somebody else holds now.
      if ((await readOrUndefined(path)) === content) await fs.rm(path, { force: true });
    },
  };
}

/** Runs `fn` holding the lock file at `path`; released however `fn` ends. Not re-entrant. */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
