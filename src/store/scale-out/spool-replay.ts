import type { Scheduler } from '../../scheduler.js';
import type { PendingWrite } from '../../engine/pending-write.js';
import type { PgUsage } from '../postgres/pg-usage.js';
import { isOutage } from '../outage.js';
import type { Spool } from './spool.js';

/**
 * Replays the spool into PostgreSQL in the background, in order, retrying
 * every half second until it is empty. A batch spooled because its COMMIT was
 * cut short carries its transaction id, and is replayed only if that
 * transaction did not commit after all.
 *
 * Whoever waits for the replay to catch up (a counter's seed, which must
 * count the spooled calls) is told at once when an attempt finds PostgreSQL
 * away, rather than held until it is back: fail-open mode then decides
 * without the seed.
 */
export class SpoolReplay {
  private replaying: Promise<void> | null = null;
  private closed = false;
  /** Why the last attempt failed, while PostgreSQL is away; null once one succeeds. */
  private outage: unknown = null;
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  constructor(private readonly spool: Spool, private readonly usage: PgUsage, private readonly scheduler: Scheduler) {}

  /** Starts replaying, unless a replay is under way. */
  start(): void {
    this.replaying ??= (async () => {
      while (this.spool.pending > 0 && !this.closed) {
        try {
          await this.spool.replay((items, at, xid) => this.replayBatch(items, at, xid));
          this.outage = null;
        } catch (error) {
          if (isOutage(error)) this.failed(error);
          await this.scheduler.delay(500);
        }
      }
    })().finally(() => {
      this.replaying = null;
      this.outage = null;
      for (const waiter of this.waiters.splice(0)) waiter.resolve();
    });
  }

  /**
   * Resolves once the replay under way (if any) is over; rejects with the
   * outage as soon as an attempt finds PostgreSQL away (at once if the last
   * one did).
   */
  caughtUp(): Promise<void> {
    if (this.replaying === null) return Promise.resolve();
    if (this.outage !== null) return Promise.reject(this.outage);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private failed(error: unknown): void {
    this.outage = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** Stops after the batch under way; what is still spooled is replayed at the next start. */
  close(): void {
    this.closed = true;
  }

  private async replayBatch(items: PendingWrite[], receivedAt: number, xid: string | undefined): Promise<void> {
    if (xid !== undefined) {
      const status = await this.usage.transactionStatus(xid);
      if (status === 'in progress') throw new Error(`transaction ${xid} is still in progress`);
      if (status === 'committed') return;
    }
    await this.usage.write(items, receivedAt);
  }
}
