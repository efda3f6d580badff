import type { IngestEvent, IngestOutcome, LimitState, MeterRequest, MeterResult } from '../domain/metering.js';
import { periodTotals } from '../domain/limit-decision.js';
import type { Span } from '../domain/periods.js';
import { CounterSeeder } from './counter-seeder.js';
import { GroupCommitter, type CommitObserver } from './group-commit.js';
import { DUPLICATE, type PendingWrite } from './pending-write.js';
import { portionOf, type CreditMovement } from '../domain/credits.js';
import type { AcceptedUsage, CreditCharge, CreditSource, DurableWriter, EventMetering, LimitRead, Limiter, Receipt, ReplyStore, SeedSource, StoreBacklog } from './ports.js';

export interface MeteringEngineOptions<L extends Limiter> {
  /** Where admitted calls and ingested events are written. */
  writer: DurableWriter;
  /** Where answers given under an idempotency key are remembered. */
  replies: ReplyStore;
  /** The units the rollups hold for a counter, to seed it. */
  seeds: SeedSource;
  /** Where groups' credits are loaded from. */
  credits: CreditSource;
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
  private readonly seeder: CounterSeeder;
  /** What reservations took from credits, until they are settled. */
  private readonly reserved = new WeakMap<MeterRequest, CreditMovement[]>();

  constructor(options: MeteringEngineOptions<L>) {
    this.writer = options.writer;
    this.replies = options.replies;
    this.log = new GroupCommitter((items) => this.writer.commit(items, options.now()), 10_000, options.writer.concurrency, options.commitObserver);
    this.seeder = new CounterSeeder(() => this.settled(), options.seeds, options.credits);
    this.limiter = options.limiter(this.seeder);
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
    const held = this.reserved.get(request) ?? [];
    this.reserved.delete(request);
    let movements = held;
    if (actualCost === 0) {
      await this.limiter.giveBack(request.groupId, held);
      return;
    }
    const perUnit = request.credits?.perUnit ?? 0;
    if (actualCost < request.cost && perUnit > 0) {
      const { back, kept } = portionOf(held, (request.cost - actualCost) * perUnit);
      await this.limiter.giveBack(request.groupId, back);
      movements = kept;
    } else if (actualCost > request.cost && perUnit > 0) {
      // Served already: what the reservation did not hold is charged, into debt if need be.
      const [more] = await this.limiter.charge([{ groupId: request.groupId, amount: (actualCost - request.cost) * perUnit, now: request.now, period: request.period, credits: request.credits! }]);
      movements = [...held, ...more!];
    }
    await this.record({ ...request, cost: actualCost }, undefined, movements);
  }

  /**
   * Records served usage durably; duplicates count nothing, the rest count
   * toward the billing-period limits `meteringOf` names for each event, and
   * take its credits (never refused: into debt if need be), written with it.
   */
  async ingest(events: readonly IngestEvent[], meteringOf: (event: IngestEvent) => EventMetering = (e) => ({ limits: periodTotals(e.groupId, e.appId) })): Promise<IngestOutcome[]> {
    const metering = events.map(meteringOf);
    const charges: CreditCharge[] = [];
    const charged: number[] = [];
    metering.forEach(({ credits }, i) => {
      const amount = credits === undefined ? 0 : credits.credits.perUnit * events[i]!.count;
      if (amount <= 0) return;
      charges.push({ groupId: events[i]!.groupId, amount, now: credits!.now, period: credits!.period, credits: credits!.credits });
      charged.push(i);
    });
    const movements: Array<CreditMovement[] | undefined> = [];
    if (charges.length > 0) (await this.limiter.charge(charges)).forEach((m, j) => (movements[charged[j]!] = m));
    // An event without credits already has the writer's shape: no copy.
    const writes = events.map((e, i) => (movements[i] === undefined ? e : { ...e, credits: movements[i] }));
    let receipts: Receipt[];
    try {
      receipts = await this.log.submitMany(writes);
    } catch (error) {
      await this.giveBackAll(events, movements);
      throw error;
    }
    // A duplicate was written before, with its credits: what was taken for it now goes back.
    await this.giveBackAll(events, movements.map((m, i) => (receipts[i]!.id === DUPLICATE ? m : undefined)));
    const accepted: AcceptedUsage[] = [];
    for (let i = 0; i < receipts.length; i += 1) {
      const { id, xid } = receipts[i]!;
      if (id === DUPLICATE) continue;
      const event = events[i]!;
      accepted.push(xid === undefined ? { event, limits: metering[i]!.limits } : { event, xid, limits: metering[i]!.limits });
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

  /** Units used in the period by the group and by the app, over every usage type. */
  async periodUsage(groupId: string, appId: string, period: Span): Promise<{ groupUsed: number; appUsed: number }> {
    const [group, app] = await this.limiter.read({ groupId, now: period.start, period, limits: periodTotals(groupId, appId) });
    return { groupUsed: group!.used, appUsed: app!.used };
  }

  /** The state of each limit now, consuming nothing. */
  read(request: LimitRead): Promise<LimitState[]> {
    return this.limiter.read(request);
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

  /** Takes in a group's grants after one was made or voided, so that the limiter spends them (or stops). */
  async creditsChanged(groupId: string): Promise<void> {
    await this.limiter.mergeCredits(groupId, await this.seeder.readCredits(groupId));
  }

  private async decide(request: MeterRequest): Promise<MeterResult> {
    const { movements = [], ...decision } = await this.limiter.admit(request);
    if (!decision.allowed || request.mode === 'rate_only') return decision;
    if (request.mode === 'reserve') {
      this.reserved.set(request, movements);
      return decision;
    }
    return { ...decision, eventId: String(await this.record(request, decision, movements)) };
  }

  /** Writes an admitted call (with its answer, under its idempotency key, and its credits); when it cannot, gives back what it took. */
  private async record(request: MeterRequest, reply: MeterResult | undefined, movements: CreditMovement[]): Promise<number | string> {
    const write: PendingWrite = {
      ts: request.now, groupId: request.groupId, appId: request.appId, keyId: request.keyId,
      usageType: request.usageType, requestArgsHash: request.requestArgsHash, count: request.cost,
      ...(request.idempotencyKey === undefined || reply === undefined
        ? {} : { reply: { groupId: request.groupId, idempotencyKey: request.idempotencyKey, result: reply } }),
      ...(movements.length === 0 ? {} : { credits: movements }),
    };
    try {
      return (await this.log.submit(write)).id;
    } catch (error) {
      await this.writer.failed(error, async () => {
        await this.limiter.adjust(request, -request.cost);
        await this.limiter.giveBack(request.groupId, movements);
      });
      throw error;
    }
  }

  private async giveBackAll(events: readonly IngestEvent[], movements: ReadonlyArray<CreditMovement[] | undefined>): Promise<void> {
    for (let i = 0; i < events.length; i += 1) {
      const m = movements[i];
      if (m !== undefined && m.length > 0) await this.limiter.giveBack(events[i]!.groupId, m);
    }
  }
}
