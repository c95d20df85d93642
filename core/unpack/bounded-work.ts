// Background file-system work with a bound on how much is in flight, and a
// way to wait for what touches one path before something else touches it.

export class BoundedWork {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly byPath = new Map<string, Promise<void>>();
  private readonly waiters: (() => void)[] = [];
  /** The first task that failed; later tasks still run so that nothing is left open. */
  failure: unknown = undefined;

  constructor(private readonly limit: number) {}

  /** Starts `task` for `path` once a slot is free; resolves when it has started, not finished. */
  async run(path: string, task: () => Promise<void>): Promise<void> {
    while (this.inFlight.size >= this.limit) await new Promise<void>((resolve) => this.waiters.push(resolve));
    const done: Promise<void> = task()
      .catch((err: unknown) => {
        if (this.failure === undefined) this.failure = err;
      })
      .finally(() => {
        this.inFlight.delete(done);
        if (this.byPath.get(path) === done) this.byPath.delete(path);
        this.waiters.shift()?.();
      });
    this.inFlight.add(done);
    this.byPath.set(path, done);
  }

  /** Waits for the work on `path`, if any. */
  async settled(path: string): Promise<void> {
    await this.byPath.get(path);
  }

  /** Waits until nothing is in flight. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
