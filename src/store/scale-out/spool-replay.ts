import type { Scheduler } from '../../scheduler.js';
import type { PendingWrite } from '../../engine/pending-write.js';
import type { PgUsage } from '../postgres/pg-usage.js';
import type { Spool } from './spool.js';

/**
 * Replays the spool into PostgreSQL in the background, in order, retrying
 * every half second until it is empty. A batch spooled because its COMMIT was
 * cut short carries its transaction id, and is replayed only if that
 * transaction did not commit after all.
 */
export class SpoolReplay {
  private replaying: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly spool: Spool, private readonly usage: PgUsage, private readonly scheduler: Scheduler) {}

  /** Starts replaying, unless a replay is under way. */
  start(): void {
    this.replaying ??= (async () => {
      while (this.spool.pending > 0 && !this.closed) {
        try {
          await this.spool.replay((items, at, xid) => this.replayBatch(items, at, xid));
        } catch {
          await this.scheduler.delay(500);
        }
      }
    })().finally(() => {
      this.replaying = null;
    });
  }

  /** Resolves once the replay under way (if any) is over. */
  async caughtUp(): Promise<void> {
    if (this.replaying !== null) await this.replaying;
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
