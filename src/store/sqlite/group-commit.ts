/**
 * Group commit: calls that arrive while the event loop is busy are written in
 * one transaction, so N concurrent calls cost one fsync instead of N.
 *
 * A submitted item waits at most until the next turn of the event loop
 * (setImmediate): every request parsed in the same I/O phase joins the same
 * batch. Each caller's promise settles only after the transaction holding its
 * item has committed (or failed, and then every caller in it sees the error).
 */
export class GroupCommitter<T, R> {
  private queue: T[] = [];
  private waiters: Array<{ resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private readonly sizes: number[] = [];

  /**
   * @param commit writes all items in one transaction and returns one result per item, in order.
   * @param maxBatch a larger queue is committed in slices of this size.
   */
  constructor(
    private readonly commit: (items: T[]) => R[],
    private readonly maxBatch = 10_000,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push(item);
      this.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Number of items waiting to be committed. */
  get pending(): number {
    return this.queue.length;
  }

  /** Sizes of recent batches (the last 1,000), for metrics and benchmarks. */
  recentBatchSizes(): readonly number[] {
    return this.sizes;
  }

  /** Commits everything queued, now, synchronously. */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const items = this.queue.splice(0, this.maxBatch);
      const waiters = this.waiters.splice(0, items.length);
      this.sizes.push(items.length);
      if (this.sizes.length > 1000) this.sizes.shift();
      let results: R[];
      try {
        results = this.commit(items);
      } catch (error) {
        for (const w of waiters) w.reject(error);
        continue;
      }
      for (let i = 0; i < waiters.length; i += 1) waiters[i]!.resolve(results[i]!);
    }
  }
}
