// Errors are values that carry what went wrong, the fix where there is one,
// and the exit code podman would use. The CLI prints them once, on stderr.

export const EXIT_TSBOX = 125;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_NOT_FOUND = 127;

export class TsboxError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? EXIT_TSBOX;
  }

  /** The one line the user sees: `what: why (fix)`. */
  userMessage(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

/** Adds context to an error as it travels up, keeping the inner message (crun's error_wrap). */
export function wrapError(context: string, err: unknown): TsboxError {
  if (err instanceof TsboxError) {
    const wrapped = new TsboxError(`${context}: ${err.message}`, { hint: err.hint, exitCode: err.exitCode, cause: err });
    return wrapped;
  }
  const full = (err as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC';
  return new TsboxError(`${context}: ${describeSystemError(err)}`, { cause: err, ...(full ? { hint: DISK_FULL_HINT } : {}) });
}

/** What to do when the store's disk is full (the store is $TSBOX_ROOT or $XDG_DATA_HOME/tsbox). */
export const DISK_FULL_HINT = 'free space on the store\'s disk: see tsbox system df, remove with tsbox system prune, or move the store with TSBOX_ROOT';

/** Turns a Node system error into `what: strerror`-style text without the stack. */
export function describeSystemError(err: unknown): string {
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOSPC') return 'no space left on device';
    if (e.code === 'EACCES' || e.code === 'EPERM') return `permission denied${e.path ? ` on ${e.path}` : ''}`;
    if (e.code === 'ENOENT' && e.path) return `no such file or directory: ${e.path}`;
    return e.message;
  }
  return String(err);
}

/** An impossible state: a bug in tsbox, not the user's fault. */
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`Assertion failed: ${what}`);
}
