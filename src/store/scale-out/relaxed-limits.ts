import type { Redis } from 'ioredis';
import type { Clock } from '../../clock.js';
import { systemScheduler, type Cancel, type Scheduler } from '../../scheduler.js';
import type { Span } from '../../domain/periods.js';
import type { AcceptedUsage, CreditCharge, LimitRead, Limiter } from '../../engine/ports.js';
import type { CallCredits, CreditMovement, CreditState } from '../../domain/credits.js';
import type { RedisCounters } from '../redis/redis-strict-limiter.js';
import { LocalLimiter } from '../../limits/local-limiter.js';
import { MINUTE_MS, windowStartAt } from '../../domain/sliding-window.js';
import { consumes, creditCharge, windowMs } from '../../domain/limit-decision.js';
import { additionsOf, addUsageInRedis, counterKey, periodKeys, syncCounters, windowCountKey, type SyncedCounter, type UsageAddition } from '../redis/redis-limiter.js';
import { CREDITS, type AppliedLimit, type LimitState, type MeterRequest, type MeterResult } from '../../domain/metering.js';

export interface RelaxedLimitsOptions {
  redis: Redis;
  clock: Clock;
  /** How often counts are exchanged with Redis. */
  syncMs: number;
  /** Runs the exchange every `syncMs`; default: Node's timers. */
  scheduler?: Scheduler;
  /** The billing period of the group that holds `ts` (for ingested events). */
  periodOf(groupId: string, ts: number): Promise<Span>;
  /**
   * Fail-open: keep deciding here however long Redis is away. Fail-closed:
   * refuse (throw) once the last successful sync is older than `staleAfterMs`.
   */
  failOpen: boolean;
  /**
   * The shared period counter's units, seeding it from PostgreSQL first when
   * Redis does not hold it (`seeded`: the units then include every call
   * this instance recorded).
   */
  sharedUsage(groupId: string, limit: AppliedLimit, period: Span): Promise<{ used: number; seeded: boolean }>;
  /** The units PostgreSQL holds, for a counter first needed while Redis is away (fail-open). */
  durableUsage(groupId: string, limit: AppliedLimit, period: Span): Promise<number>;
  isOutage(error: unknown): boolean;
  /**
   * Groups' credits, in Redis: a balance is spent exactly, one round trip
   * per call of a plan with credits, even when the limits are relaxed.
   */
  credits: Pick<RedisCounters, 'chargeOne' | 'charge' | 'giveBack' | 'mergeCredits'>;
}

/** A counter this instance added to since the last sync. */
interface PendingCount {
  groupId: string;
  kind: SyncedCounter['kind'];
  delta: number;
  ttlMs: number;
}

/** A key's limits decided here lately, whose shared counts each sync reads back. */
interface ActivePair {
  pair: LimitRead;
  /** The time of its last call (`now` of the request): whose windows are read back. */
  lastCall: number;
  /** When this instance last decided a call of it, by its own clock. */
  lastSeen: number;
}

/** Limits unused this long are no longer read back (a window longer than this is then loaded again from Redis). */
const IDLE_MS = 2 * MINUTE_MS;

/**
 * Relaxed limits for the scale-out store, in the manner of Kong's
 * `sync_rate`: each instance decides every call in memory, against the
 * shared counts as of its last sync plus what it admitted since, and every
 * `syncMs` adds its own counts to Redis and reads the totals back (one
 * script per group, all sent at once). A call costs no Redis round trip.
 *
 * The price is overshoot: between two syncs an instance does not see what
 * the others admit, so together they can admit up to what the other
 * instances admit in one sync interval (plus a round trip) beyond a quota
 * or rate limit. Events are still written to PostgreSQL before the answer:
 * only the limits are relaxed, never the records.
 *
 * Rate windows are kept in Redis as one count per fixed minute; the sliding
 * window is weighed from the current and previous minute as everywhere else.
 */
export class RelaxedLimits implements Limiter {
  private readonly local = new LocalLimiter();
  private pending = new Map<string, PendingCount>();
  private readonly active = new Map<string, ActivePair>();
  private lastSynced: number;
  private readonly staleAfterMs: number;
  private syncing: Promise<void> | null = null;
  /**
   * Exchanges and loads run one at a time: a load that seeds a counter from
   * PostgreSQL must not meet an exchange carrying counts PostgreSQL already
   * holds, nor read Redis while counts taken from `pending` are on their way.
   */
  private turn: Promise<unknown> = Promise.resolve();
  private readonly timer: Cancel;

  constructor(private readonly options: RelaxedLimitsOptions) {
    this.lastSynced = options.clock.now();
    this.staleAfterMs = Math.max(10 * options.syncMs, 2_000);
    this.timer = (options.scheduler ?? systemScheduler()).every(options.syncMs, () => this.sync());
  }

  /** Decides a call here; what it takes reaches Redis at the next sync. */
  async admit(request: MeterRequest): Promise<MeterResult> {
    this.refuseIfStale();
    await this.load(request);
    if (request.credits !== undefined) return this.admitWithCredits(request, request.credits);
    const result = this.local.admit(request);
    this.markActive(request);
    if (result.allowed) this.count(request, request.cost, request.mode !== 'rate_only');
    return result;
  }

  /**
   * The credits are taken in Redis first (exact across instances), then
   * the limits decided here; a call the limits refuse gives its credits
   * back. Meanwhile another call may find them taken: credits may refuse
   * a call they would have covered, never admit one they cannot.
   */
  private async admitWithCredits(request: MeterRequest, credits: CallCredits): Promise<MeterResult> {
    const { groupId, now, period } = request;
    const charge = creditCharge(request);
    const taken = await this.options.credits.chargeOne({ groupId, amount: charge, now, period, credits }, false);
    if (!taken.allowed) {
      return {
        allowed: false, code: 'insufficient_credits', deniedBy: CREDITS, retryAfterMs: null, limits: this.local.states(request),
        eventId: null, replayed: false, credits: { charged: 0, balance: taken.balance },
      };
    }
    const { credits: _, ...limitsOnly } = request;
    const result = this.local.admit(limitsOnly);
    this.markActive(request);
    if (!result.allowed) {
      await this.options.credits.giveBack(groupId, taken.movements);
      return { ...result, credits: { charged: 0, balance: taken.balance + charge } };
    }
    this.count(request, request.cost, request.mode !== 'rate_only');
    return { ...result, credits: { charged: charge, balance: taken.balance }, ...(taken.movements.length > 0 ? { movements: taken.movements } : {}) };
  }

  charge(charges: readonly CreditCharge[]): Promise<CreditMovement[][]> {
    return this.options.credits.charge(charges);
  }

  giveBack(groupId: string, movements: readonly CreditMovement[]): Promise<void> {
    return this.options.credits.giveBack(groupId, movements);
  }

  mergeCredits(groupId: string, state: CreditState): Promise<void> {
    return this.options.credits.mergeCredits(groupId, state);
  }

  /** Notes a call of its group and app, whose shared counts each exchange then reads back. */
  private markActive(request: MeterRequest): void {
    const key = pairKey(request);
    const seen = this.options.clock.now();
    const entry = this.active.get(key);
    if (entry === undefined) {
      this.active.set(key, { pair: { groupId: request.groupId, now: request.now, period: request.period, limits: request.limits }, lastCall: request.now, lastSeen: seen });
    } else {
      // The latest limits (a plan change) and times; the group and its period stay the entry's.
      entry.pair.limits = request.limits;
      entry.lastCall = request.now;
      entry.lastSeen = seen;
    }
  }

  /** Changes an admitted call's consumption (a settled reservation, or a call that could not be recorded). */
  async adjust(request: MeterRequest, delta: number): Promise<void> {
    this.local.adjust(request, delta);
    this.count(request, delta, request.mode !== 'rate_only');
  }

  /**
   * Usage that bypassed the limits (ingested events, committed): into the
   * counters here at once, and into Redis's at once too, where a counter
   * seeded meanwhile is not added to twice (see ADD_USAGE_SCRIPT); while
   * Redis is away, at the next sync that reaches it.
   */
  addUsage(additions: readonly UsageAddition[]): Promise<void> {
    // In turn with the exchanges: one under way would otherwise set the local counts back to totals from before this addition.
    return this.inTurn(async () => {
      for (const a of additions) this.local.addUsage(a.limits, a.period.start, a.count);
      try {
        await addUsageInRedis(this.options.redis, additions);
      } catch {
        for (const a of additions) for (const key of periodKeys(a)) this.add(key, a.groupId, 'quota', a.count, 0);
      }
    });
  }

  /** Ingested usage, stored: counted as `addUsage` says, in the periods it falls in. */
  async ingested(accepted: readonly AcceptedUsage[]): Promise<void> {
    await this.addUsage(await additionsOf(accepted, this.options.periodOf));
  }

  /** The limits as this instance sees them: the shared totals of the last sync, plus its own since. */
  async read(request: LimitRead): Promise<LimitState[]> {
    this.refuseIfStale();
    await this.load(request);
    return this.local.states(request);
  }

  /** Exchanges counts with Redis now (the timer does it every `syncMs`); concurrent calls share one exchange. */
  sync(): Promise<void> {
    this.syncing ??= this.inTurn(() => this.exchange()).finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  /** Stops syncing, after a last exchange so that this instance's counts are not lost to the others. */
  async close(): Promise<void> {
    this.timer();
    await this.sync();
  }

  private async exchange(): Promise<void> {
    const now = this.options.clock.now();
    for (const [key, { pair, lastSeen }] of this.active) {
      if (now - lastSeen <= IDLE_MS) continue;
      // No longer read back, so no longer trusted: the next call loads the shared counts again.
      this.active.delete(key);
      for (const limit of pair.limits) this.local.forget(limit);
    }

    const sent = this.pending;
    this.pending = new Map();
    const byGroup = new Map<string, Map<string, SyncedCounter>>();
    const include = (groupId: string, key: string, kind: SyncedCounter['kind'], ttlMs: number): void => {
      let counters = byGroup.get(groupId);
      if (counters === undefined) byGroup.set(groupId, (counters = new Map()));
      if (!counters.has(key)) counters.set(key, { key, kind, delta: sent.get(key)?.delta ?? 0, ttlMs });
    };
    for (const [key, count] of sent) include(count.groupId, key, count.kind, count.ttlMs);
    for (const { pair, lastCall } of this.active.values()) {
      for (const limit of pair.limits) {
        const ms = windowMs(limit);
        if (ms === null) include(pair.groupId, counterKey(pair.groupId, limit, pair.period.start), 'quota', 0);
        else for (const start of windowStarts(lastCall, ms)) include(pair.groupId, windowCountKey(pair.groupId, limit, start), 'window', windowTtl(ms));
      }
    }
    if (byGroup.size === 0) {
      this.lastSynced = now;
      return;
    }

    let totals: Map<string, number | null>;
    try {
      const counters = new Map([...byGroup].map(([groupId, c]) => [groupId, [...c.values()]]));
      totals = await syncCounters(this.options.redis, counters);
    } catch {
      // Redis is away: the counts wait for the next exchange.
      for (const [key, count] of sent) this.add(key, count.groupId, count.kind, count.delta, count.ttlMs);
      return;
    }
    this.lastSynced = now;

    for (const { pair, lastCall } of this.active.values()) {
      for (const limit of pair.limits) {
        const ms = windowMs(limit);
        if (ms === null) {
          const key = counterKey(pair.groupId, limit, pair.period.start);
          const total = totals.get(key);
          // Redis lost the counter: it is seeded again from PostgreSQL, which holds every recorded unit, at the next call.
          if (total === null) this.local.forgetUsage(limit);
          else if (total !== undefined) this.local.rebaseUsage(limit, pair.period, total + this.unsent(key));
          continue;
        }
        const [previous, current] = windowStarts(lastCall, ms).map((start) => {
          const key = windowCountKey(pair.groupId, limit, start);
          return (totals.get(key) ?? 0) + this.unsent(key);
        });
        this.local.rebaseWindow(limit, { windowStart: windowStartAt(lastCall, ms), previous: previous!, current: current! });
      }
    }
  }

  /** Loads the period counters of a key's limits not decided here yet in this period. */
  private async load(request: LimitRead): Promise<void> {
    if (this.local.missingUsage(request.limits, request.period).length === 0) return;
    await this.inTurn(() => this.loadMissing(request));
  }

  private async loadMissing(request: LimitRead): Promise<void> {
    for (const limit of this.local.missingUsage(request.limits, request.period)) {
      const key = counterKey(request.groupId, limit, request.period.start);
      let used: number;
      try {
        const shared = await this.options.sharedUsage(request.groupId, limit, request.period);
        // A counter seeded from PostgreSQL already holds what was counted here: sending it too would count it twice.
        if (shared.seeded) this.pending.delete(key);
        used = shared.used + this.unsent(key);
      } catch (error) {
        if (!this.options.failOpen || !this.options.isOutage(error)) throw error;
        used = await this.options.durableUsage(request.groupId, limit, request.period).catch(() => 0);
      }
      this.local.setUsage(limit, request.period, used);
    }
  }

  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private count(request: MeterRequest, delta: number, quotas: boolean): void {
    if (delta === 0) return;
    for (const limit of request.limits) {
      const ms = windowMs(limit);
      if (ms === null) {
        if (quotas) this.add(counterKey(request.groupId, limit, request.period.start), request.groupId, 'quota', delta, 0);
        continue;
      }
      if (!consumes(limit, request.mode)) continue;
      const start = this.local.windowStartOf(limit) ?? windowStartAt(request.now, ms);
      this.add(windowCountKey(request.groupId, limit, start), request.groupId, 'window', delta, windowTtl(ms));
    }
  }

  private add(key: string, groupId: string, kind: SyncedCounter['kind'], delta: number, ttlMs: number): void {
    const count = this.pending.get(key);
    if (count === undefined) this.pending.set(key, { groupId, kind, delta, ttlMs });
    else count.delta += delta;
  }

  private unsent(key: string): number {
    return this.pending.get(key)?.delta ?? 0;
  }

  /** Fail-closed: counts older than this could be far off; the caller hears the store is away. */
  private refuseIfStale(): void {
    if (this.options.failOpen) return;
    const age = this.options.clock.now() - this.lastSynced;
    if (age > this.staleAfterMs) throw new Error(`no counter sync with Redis for ${age} ms`);
  }
}

/** The starts of the previous and the current fixed window at `ms`. */
function windowStarts(ms: number, length: number): [number, number] {
  const start = windowStartAt(ms, length);
  return [start - length, start];
}

/** A fixed window's count is needed while it is the current or the previous window; a margin for clocks. */
function windowTtl(length: number): number {
  return 2 * length + MINUTE_MS;
}

function pairKey(request: MeterRequest): string {
  return `${request.groupId}\u0000${request.appId}\u0000${request.keyId}\u0000${request.period.start}`;
}
