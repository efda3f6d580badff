import type { IngestEvent, IngestOutcome, MeterRequest, MeterResult } from '../domain/metering.js';
import type { Span } from '../domain/periods.js';
import { CounterSeeder } from './counter-seeder.js';
import { GroupCommitter, type CommitObserver } from './group-commit.js';
import { DUPLICATE, type PendingWrite } from './pending-write.js';
import type { AcceptedUsage, CounterSeedSource, DurableWriter, Limiter, Receipt, ReplyStore, StoreBacklog } from './ports.js';

export interface MeteringEngineOptions<L extends Limiter> {
  /** Where admitted calls and ingested events are written. */
  writer: DurableWriter;
  /** Where answers given under an idempotency key are remembered. */
  replies: ReplyStore;
  /** The units the rollups hold for a counter, to seed it. */
  seeds: CounterSeedSource;
  /** Builds the limiter on the engine's seeder (limiters seed their counters through it). */
  limiter: (seeder: CounterSeeder) => L;
  /** The time a batch of writes is received at. */
  now: () => number;
  /** Hears of every commit batch (metrics). */
  commitObserver?: CommitObserver;
}

/**
 * The metering decision, written once for every store: a call under an
 * idempotency key is decided once (concurrent calls with the same key share
 * the decision, and a retry gets the remembered answer); the limits are
 * applied all-or-nothing; an admitted call is written durably before it is
 * answered, and what it took from the counters is given back when it cannot
 * be. Concurrent writes are committed in batches (group commit).
 *
 * Everything that differs between stores and modes (in-process, Redis strict
 * or relaxed limits, fail-open, a spool) is an implementation of a port
 * (src/engine/ports.ts), never a branch here.
 */
export class MeteringEngine<L extends Limiter = Limiter> {
  private readonly log: GroupCommitter<PendingWrite, Receipt>;
  /** The limiter the engine built, for the store's own upkeep of it (sweeping idle windows). */
  readonly limiter: L;
  private readonly writer: DurableWriter;
  private readonly replies: ReplyStore;
  private readonly inFlight = new Map<string, Promise<MeterResult>>();

  constructor(options: MeteringEngineOptions<L>) {
    this.writer = options.writer;
    this.replies = options.replies;
    this.log = new GroupCommitter((items) => this.writer.commit(items, options.now()), 10_000, options.writer.concurrency, options.commitObserver);
    this.limiter = options.limiter(new CounterSeeder(() => this.settled(), options.seeds));
  }

  async meter(request: MeterRequest): Promise<MeterResult> {
    const { idempotencyKey } = request;
    if (idempotencyKey === undefined) return this.decide(request);
    // Calls here under one key share one decision; the reply store keeps other processes to one too.
    const key = `${request.groupId}\u0000${idempotencyKey}`;
    const inFlight = this.inFlight.get(key);
    if (inFlight !== undefined) return { ...(await inFlight), replayed: true };
    const decided = this.replies.once(request, idempotencyKey, () => this.decide(request));
    this.inFlight.set(key, decided);
    try {
      return await decided;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /**
   * Ends a `reserve`: gives back or adds the difference to the counters, and
   * records the call with the cost it really had (nothing when 0).
   */
  async settle(request: MeterRequest, actualCost: number): Promise<void> {
    await this.limiter.adjust(request, actualCost - request.cost);
    if (actualCost > 0) await this.record({ ...request, cost: actualCost });
  }

  /** Records served usage durably; duplicates count nothing, the rest count toward the quotas. */
  async ingest(events: readonly IngestEvent[]): Promise<IngestOutcome[]> {
    // An ingested event already has the writer's shape: no copy.
    const receipts = await this.log.submitMany(events);
    const accepted: AcceptedUsage[] = [];
    for (let i = 0; i < receipts.length; i += 1) {
      const { id, xid } = receipts[i]!;
      if (id !== DUPLICATE) accepted.push(xid === undefined ? { event: events[i]! } : { event: events[i]!, xid });
    }
    if (accepted.length > 0) {
      try {
        await this.limiter.ingested(accepted);
      } catch {
        // The events are stored: a counter that missed them is corrected when it is seeded again.
      }
    }
    return receipts.map(({ id }) => (id === DUPLICATE ? 'duplicate' : 'accepted'));
  }

  periodUsage(groupId: string, appId: string, period: Span): Promise<{ groupUsed: number; appUsed: number }> {
    return this.limiter.usage({ groupId, appId, period });
  }

  /** How many calls shared each recent commit (the bench reports their mean). */
  recentBatchSizes(): readonly number[] {
    return this.log.recentBatchSizes();
  }

  /** Writes in the queue and in commit now. */
  backlog(): Pick<StoreBacklog, 'queuedWrites' | 'committingWrites'> {
    return { queuedWrites: this.log.pending, committingWrites: this.log.committing };
  }

  /** Resolves once every write accepted so far is durable (or failed). */
  drain(): Promise<void> {
    return this.log.drain();
  }

  /** Waits for the writes under way, then closes the limiter. */
  async close(): Promise<void> {
    await this.log.drain();
    await this.limiter.close();
  }

  private async settled(): Promise<void> {
    await this.log.drain();
    await this.writer.caughtUp();
  }

  private async decide(request: MeterRequest): Promise<MeterResult> {
    const decision = await this.limiter.admit(request);
    if (!decision.allowed || request.mode !== 'record') return decision;
    return { ...decision, eventId: String(await this.record(request, decision)) };
  }

  /** Writes an admitted call (with its answer, under its idempotency key); when it cannot, gives back what it took. */
  private async record(request: MeterRequest, reply?: MeterResult): Promise<number | string> {
    const write: PendingWrite = {
      ts: request.now, groupId: request.groupId, appId: request.appId, keyId: request.keyId,
      usageType: request.usageType, requestArgsHash: request.requestArgsHash, count: request.cost,
      ...(request.idempotencyKey === undefined || reply === undefined
        ? {} : { reply: { groupId: request.groupId, idempotencyKey: request.idempotencyKey, result: reply } }),
    };
    try {
      return (await this.log.submit(write)).id;
    } catch (error) {
      await this.writer.failed(error, () => this.limiter.adjust(request, -request.cost));
      throw error;
    }
  }
}
