import type { CallCredits, CreditMovement, CreditState, PeriodGrant } from '../domain/credits.js';
import type { CounterRef } from '../domain/limits.js';
import type { AppliedLimit, IngestEvent, LimitState, MeterRequest, MeterResult } from '../domain/metering.js';
import type { Span } from '../domain/periods.js';
import type { WindowCounter } from '../domain/sliding-window.js';
import type { PendingWrite } from './pending-write.js';

/**
 * The ports of the metering engine: what it needs from the world, each small
 * enough that an implementation is one concern. The engine holds the
 * decision (src/engine/metering-engine.ts); the stores wire these to SQLite,
 * PostgreSQL and Redis.
 */

/** Usage the durable store accepted, with the transaction that committed it (PostgreSQL), for counters that must not count it twice. */
export interface AcceptedUsage {
  event: IngestEvent;
  xid?: string;
  /** The billing-period, hour and day limits it counts toward (src/metering/limits.ts, `ingestLimits`). */
  limits: readonly AppliedLimit[];
}

/** Credits to take from a group outside a decision: `credits` and `period` say how to load its balance when it is not loaded yet. */
export interface CreditCharge {
  groupId: string;
  amount: number;
  now: number;
  period: Span;
  credits: CallCredits;
}

/**
 * Where a group's credits are loaded from: its grants and debt, the plan's
 * recurring grant for the period issued first when it is due.
 * Implementations: each store's CreditStore, through the store's wiring.
 */
export interface CreditSource {
  load(groupId: string, period: Span, periodGrant: PeriodGrant | null): Promise<CreditState>;
  read(groupId: string): Promise<CreditState>;
}

/** What an ingested event counts toward: the period limits of its app and kind, and its credits (with when and in which period it is charged). */
export interface EventMetering {
  limits: readonly AppliedLimit[];
  credits?: { credits: CallCredits; now: number; period: Span };
}

/** Which limits to read, whose, when: a usage read, consuming nothing. */
export type LimitRead = Pick<MeterRequest, 'groupId' | 'now' | 'period' | 'limits' | 'credits'>;

/**
 * The rate windows and quota counters a call is decided against.
 * Implementations: in-process (src/limits/in-process-limiter.ts), Redis
 * strict (src/store/redis/redis-strict-limiter.ts), relaxed
 * (src/store/scale-out/relaxed-limits.ts), and the fail-open wrapper
 * (src/store/scale-out/fail-open-limiter.ts).
 */
export interface Limiter {
  /**
   * Applies every limit all-or-nothing: when any refuses, nothing is
   * consumed; when all admit, the windows and (unless `rate_only`) the quotas
   * take the cost.
   */
  admit(request: MeterRequest): Promise<MeterResult>;
  /** Changes an admitted call's consumption (a settled reservation, or a call given back). */
  adjust(request: MeterRequest, delta: number): Promise<void>;
  /** Usage that bypassed the limits (ingested events, already stored). */
  ingested(accepted: readonly AcceptedUsage[]): Promise<void>;
  /** The state of each limit now, consuming nothing (period counters seeded first when needed). */
  read(request: LimitRead): Promise<LimitState[]>;
  /**
   * Charges credits outside a decision (ingested events, a call settled
   * above its reservation): never refused, what the grants cannot cover
   * becomes debt. One allocation per charge, in order.
   */
  charge(charges: readonly CreditCharge[]): Promise<CreditMovement[][]>;
  /** Gives back what movements took (a call that could not be written, a duplicate event, a reservation settled below). */
  giveBack(groupId: string, movements: readonly CreditMovement[]): Promise<void>;
  /** Takes in the store's view of a group's grants after one was made or voided; a group not loaded is left to load. */
  mergeCredits(groupId: string, state: CreditState): Promise<void>;
  close(): Promise<void>;
}

/** A write's outcome: its event id (DUPLICATE, or a spool id while PostgreSQL is away) and the transaction that committed it. */
export interface Receipt {
  id: number | string;
  xid?: string;
}

/**
 * Where admitted calls and ingested events are written durably, a batch at a
 * time (the engine groups concurrent writes into batches). Implementations:
 * the SQLite writer thread (src/store/sqlite/writer-client.ts), PostgreSQL
 * (src/store/postgres/pg-usage-writer.ts), and the spooling wrapper of
 * fail-open mode (src/store/scale-out/spooling-writer.ts).
 */
export interface DurableWriter {
  /** Writes one batch in one transaction, in order; one receipt per item. `receivedAt` is stored with the events. */
  commit(items: PendingWrite[], receivedAt: number): Promise<Receipt[]>;
  /** How many batches may be committing at once (they must land in the order given). */
  readonly concurrency: number;
  /**
   * A write failed: `giveBack` returns what its call took from the
   * counters. Run now, or, when the commit's outcome is unknown, only once it
   * is known not to have committed.
   */
  failed(error: unknown, giveBack: () => Promise<void>): Promise<void>;
  /** Resolves once nothing accepted waits outside the durable store (a spool replayed). */
  caughtUp(): Promise<void>;
}

/**
 * Where the answers given under an idempotency key are remembered (they are
 * written with the call's event, by the durable writer). Implementations:
 * SQLite (src/store/sqlite/sqlite-replies.ts), and PostgreSQL with Redis marks
 * across instances (src/store/scale-out/reply-marks.ts).
 */
export interface ReplyStore {
  /**
   * The answer remembered under the key, replayed; else `decide`'s. An
   * implementation shared by several processes lets only one decide at a time.
   */
  once(request: MeterRequest, idempotencyKey: string, decide: () => Promise<MeterResult>): Promise<MeterResult>;
}

/** The units a billing-period counter starts from, and (PostgreSQL) the snapshot they were read in. */
export interface Seed {
  units: number;
  snapshot?: string;
}

/** The counts an hour or day window starts from, and (PostgreSQL) the snapshot they were read in. */
export interface WindowSeed {
  counter: WindowCounter;
  snapshot?: string;
}

/** A counter's units in each span asked for, all read at once (in one snapshot, on PostgreSQL). */
export interface SpanSeeds {
  units: number[];
  snapshot?: string;
}

/**
 * The units the rollups hold for any counter (a group's, an app's or a
 * key's, of every usage type or some) in each of some spans: a billing
 * period, or an hour or day window and the one before it. Implementations:
 * any rollup reader (src/engine/counter-seeder.ts, `rollupSeeds`), and
 * PostgreSQL's snapshotted read (src/store/postgres/pg-usage.ts, `counterSeeds`).
 */
export type SeedSource = (ref: CounterRef, spans: readonly Span[]) => Promise<SpanSeeds>;

/** Work accepted and not yet fully written, at this moment (for `/metrics`); cheap enough to read on every scrape. */
export interface StoreBacklog {
  /** Admitted calls and ingested events waiting for their batch's commit to begin. */
  queuedWrites: number;
  /** Calls and events in the batches being committed now. */
  committingWrites: number;
  /** Committed events not yet summed into the rollup tables (the embedded store writes them every rollupFlushMs). */
  rollupPendingEvents: number;
  /** Batches in the local spool, waiting for PostgreSQL to take them (scale-out store, `onStoreDown: open`). */
  spooledBatches: number;
}

