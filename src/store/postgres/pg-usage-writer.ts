import type { PendingWrite } from '../../engine/pending-write.js';
import type { DurableWriter, Receipt } from '../../engine/ports.js';
import { CommitUncertainError, type PgUsage } from './pg-usage.js';
import type { UncertainCommits } from './uncertain-commits.js';

/**
 * The durable writer on PostgreSQL: one transaction per batch (events, their
 * rollup rows and their idempotent answers). Batches are independent, each on
 * its own connection, so several commit at once.
 */
export class PgUsageWriter implements DurableWriter {
  readonly concurrency = 4;

  /** @param caughtUp resolves once a spool left by an earlier run is replayed. */
  constructor(private readonly usage: PgUsage, private readonly uncertain: UncertainCommits, readonly caughtUp: () => Promise<void>) {}

  async commit(items: PendingWrite[], receivedAt: number): Promise<Receipt[]> {
    const { seqs, xid } = await this.usage.write(items, receivedAt);
    return seqs.map((id) => ({ id, xid }));
  }

  async failed(error: unknown, giveBack: () => Promise<void>): Promise<void> {
    // Given back only once it is sure the call was not recorded.
    if (error instanceof CommitUncertainError) this.uncertain.refundIfAborted(error.xid, giveBack);
    else await giveBack().catch(() => undefined);
  }
}
