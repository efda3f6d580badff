import type { Scheduler } from '../../scheduler.js';

type Status = 'committed' | 'aborted' | 'in progress';

/**
 * Commits whose outcome is unknown: the connection broke during COMMIT, so
 * the transaction may or may not have committed. What their calls took from
 * the counters is given back only once PostgreSQL says the transaction
 * aborted, checked every half second until it can tell (or until closed).
 */
export class UncertainCommits {
  /** Interrupted commits not known yet to have committed or not, with what to give back if not. */
  private readonly pending = new Map<string, Array<() => Promise<void>>>();
  private resolving: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly status: (xid: string) => Promise<Status>, private readonly scheduler: Scheduler) {}

  /** Gives back with `refund` if transaction `xid` turns out not to have committed. */
  refundIfAborted(xid: string, refund: () => Promise<void>): void {
    let entry = this.pending.get(xid);
    if (entry === undefined) {
      entry = [];
      this.pending.set(xid, entry);
    }
    entry.push(refund);
    this.resolving ??= this.resolve().finally(() => {
      this.resolving = null;
    });
  }

  /** Stops checking; the refunds still waiting are dropped (the counters are seeded again at the next start). */
  close(): void {
    this.closed = true;
  }

  private async resolve(): Promise<void> {
    while (this.pending.size > 0 && !this.closed) {
      for (const [id, refunds] of [...this.pending]) {
        const status = await this.status(id).catch(() => 'in progress' as const);
        if (status === 'in progress') continue;
        this.pending.delete(id);
        if (status === 'aborted') for (const r of refunds) await r().catch(() => undefined);
      }
      if (this.pending.size > 0) await this.scheduler.delay(500);
    }
  }
}
