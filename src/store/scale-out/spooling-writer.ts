import type { PendingWrite } from '../../engine/pending-write.js';
import type { DurableWriter, Receipt } from '../../engine/ports.js';
import { CommitUncertainError } from '../postgres/pg-usage.js';
import { isOutage } from '../outage.js';
import type { Spool } from './spool.js';
import type { SpoolReplay } from './spool-replay.js';

/**
 * Fail-open mode's durable writer: PostgreSQL's, except that while
 * PostgreSQL cannot be reached, and for as long as the spool holds anything
 * (so that batches reach PostgreSQL in order), batches are appended to the
 * spool on local disk, fsynced before the answer, and replayed in the
 * background. A batch whose COMMIT was cut short is spooled with its
 * transaction id, and replayed only if that did not commit.
 */
export class SpoolingWriter implements DurableWriter {
  readonly concurrency: number;

  constructor(private readonly inner: DurableWriter, private readonly spool: Spool, private readonly replay: SpoolReplay) {
    this.concurrency = inner.concurrency;
  }

  async commit(items: PendingWrite[], receivedAt: number): Promise<Receipt[]> {
    const spooled = async (xid?: string) => (await this.spool.append(items, receivedAt, xid)).map((id) => ({ id }));
    if (this.spool.pending > 0) return spooled();
    try {
      return await this.inner.commit(items, receivedAt);
    } catch (error) {
      const uncertain = error instanceof CommitUncertainError;
      if (!(uncertain || isOutage(error))) throw error;
      const ids = await spooled(uncertain ? error.xid : undefined);
      this.replay.start();
      return ids;
    }
  }

  failed(error: unknown, giveBack: () => Promise<void>): Promise<void> {
    return this.inner.failed(error, giveBack);
  }

  caughtUp(): Promise<void> {
    return this.replay.caughtUp();
  }
}
