/**
 * Group commit: calls that arrive while a commit is under way wait for it to
 * finish and are then written together, in one transaction, so N concurrent
 * calls cost one fsync instead of N, and the disk is never idle while calls
 * are waiting.
 *
 * The first item of a quiet period waits only until the next turn of the
 * event loop (setImmediate): every request parsed in the same I/O phase joins
 * it. At most `maxInFlight` batches are handed to the committer at once, and
 * it must commit them in the order given, so batches land in the order they
 * were formed. Each caller's promise settles only after the
 * transaction holding its item has committed (or failed: then every caller in
 * it sees the error).
 */
export interface CommitObserver {
  /** Called once per batch, after its commit succeeded or failed. */
  batchCommitted(report: CommitReport): void;
}

export interface CommitReport {
  items: number;
  /** How long the batch's oldest item waited in the queue before the commit began. */
  waitedMs: number;
  /** How long the commit took. */
  commitMs: number;
  ok: boolean;
}

export class GroupCommitter<T, R> {
  private queue: T[] = [];
  /** One waiter per submit call, covering `size` consecutive items of the queue. */
  private waiters: Array<{ size: number; at: number; resolve: (r: R[]) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private inFlight = 0;
  private inFlightItems = 0;
  private readonly sizes: number[] = [];
  private submitted = 0;
  private settled = 0;
  private drainers: Array<{ upTo: number; resolve: () => void }> = [];

  /**
   * @param commit writes all items in one transaction and resolves with one result per item, in order.
   * @param maxBatch a larger queue is committed in slices of this size.
   * @param maxInFlight batches handed to `commit` before the first has finished; 2 lets the next
   *   batch wait at the writer, ready the moment the disk is free, instead of a round trip later.
   * @param observer hears of every batch (metrics), so that the store needs to know nothing of them.
   */
  constructor(
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 10_000,
    private readonly maxInFlight = 1,
    private readonly observer?: CommitObserver,
  ) {}

  submit(item: T): Promise<R> {
    return this.submitMany([item]).then((results) => results[0]!);
  }

  /** Submits items that are committed in the same transaction, with one promise for all. */
  submitMany(items: readonly T[]): Promise<R[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      this.queue.push(...items);
      this.waiters.push({ size: items.length, at: performance.now(), resolve, reject });
      this.submitted += items.length;
      this.schedule();
    });
  }

  /** Number of items waiting to be committed (not counting a batch being committed). */
  get pending(): number {
    return this.queue.length;
  }

  /** Number of items in the batches being committed now. */
  get committing(): number {
    return this.inFlightItems;
  }

  /** Sizes of recent batches (the last 1,000), for metrics and benchmarks. */
  recentBatchSizes(): readonly number[] {
    return this.sizes;
  }

  /**
   * Resolves once everything submitted before this call has been committed
   * (or has failed); later submissions do not hold it up.
   */
  drain(): Promise<void> {
    if (this.settled >= this.submitted) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainers.push({ upTo: this.submitted, resolve });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.inFlight < this.maxInFlight) this.start();
    });
  }

  private start(): void {
    if (this.queue.length === 0) return;
    // Whole submissions only: a batch may exceed maxBatch by the rest of the last one.
    let count = 0;
    let taken = 0;
    while (taken < this.waiters.length && (count === 0 || count + this.waiters[taken]!.size <= this.maxBatch)) {
      count += this.waiters[taken]!.size;
      taken += 1;
    }
    const items = this.queue.splice(0, count);
    const waiters = this.waiters.splice(0, taken);
    this.sizes.push(items.length);
    if (this.sizes.length > 1000) this.sizes.shift();
    this.inFlight += 1;
    this.inFlightItems += items.length;
    const startedAt = performance.now();
    void (async () => {
      let ok = false;
      try {
        const results = await this.commit(items);
        ok = true;
        let offset = 0;
        for (const w of waiters) {
          w.resolve(results.slice(offset, offset + w.size));
          offset += w.size;
        }
      } catch (error) {
        for (const w of waiters) w.reject(error);
      } finally {
        this.inFlightItems -= items.length;
        this.observer?.batchCommitted({ items: items.length, waitedMs: startedAt - waiters[0]!.at, commitMs: performance.now() - startedAt, ok });
        this.settled += items.length;
        this.drainers = this.drainers.filter((d) => (d.upTo <= this.settled ? (d.resolve(), false) : true));
        this.inFlight -= 1;
        // What arrived during this commit is the next batch.
        if (this.queue.length > 0 && this.inFlight < this.maxInFlight) this.start();
      }
    })();
  }
}
