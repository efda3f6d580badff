import type { Redis } from 'ioredis';
import type { CounterRef } from '../../domain/limits.js';
import type { AppliedLimit, LimitState, MeterRequest, MeterResult } from '../../domain/metering.js';
import { limitStates, windowMs, type Reading } from '../../domain/limit-decision.js';
import type { Span } from '../../domain/periods.js';
import type { CounterSeeder } from '../../engine/counter-seeder.js';
import type { AcceptedUsage, CreditCharge, LimitRead, Limiter } from '../../engine/ports.js';
import type { CallCredits, CreditMovement, CreditState } from '../../domain/credits.js';
import { chargeInRedis, creditsKey, giveBackInRedis, mergeInRedis } from './redis-credits.js';
import { advance } from '../../domain/sliding-window.js';
import { additionsOf, addUsageInRedis, adjustInRedis, admitInRedis, counterKey, readCounter, seedCounter, seedWindowInRedis, type UsageAddition } from './redis-limiter.js';
import { isSeededWindow } from '../../domain/limits.js';

export interface RedisCountersOptions {
  redis: Redis;
  seeder: CounterSeeder;
  now: () => number;
  /** The billing period of the group that holds `ts` (for ingested events). */
  periodOf(groupId: string, ts: number): Promise<Span>;
}

/**
 * The period counters in Redis, shared by every instance: read, seeded from
 * the rollups (through the engine's seeder, with SET NX so that instances
 * racing to seed agree on one value), added to.
 */
export class RedisCounters {
  constructor(protected readonly options: RedisCountersOptions) {}

  /** A period counter's units, seeded first when Redis does not hold it (`seeded`: this call seeded it). */
  async shared(groupId: string, limit: AppliedLimit, period: Span): Promise<{ used: number; seeded: boolean }> {
    const key = counterKey(groupId, limit, period.start);
    for (let seeded = false; ; seeded = true) {
      const used = await readCounter(this.options.redis, key);
      if (used !== null) return { used, seeded };
      await this.seed(groupId, limit, period);
    }
  }

  /**
   * Sets a period counter to the units the rollups hold, unless another call
   * or instance set it first. A call is admitted only against an existing
   * counter, so when a counter is first created nothing admitted can be
   * missing from the sum. When Redis lost a counter (a restart without
   * persistence), this instance's own calls are committed first; another
   * instance's call committing in the same milliseconds can be missed.
   */
  seed(groupId: string, limit: AppliedLimit, period: Span): Promise<void> {
    const ref: CounterRef = { groupId, scope: limit.scope, scopeId: limit.scopeId, usageTypes: limit.usageTypes };
    const key = counterKey(groupId, limit, period.start);
    return this.options.seeder.seed(key, ref, period, (s) => seedCounter(this.options.redis, key, s.units, this.quotaTtl(period), s.snapshot));
  }

  /**
   * Seeds an hour or day window's hash with what the rollups hold for the
   * fixed window holding `now` and the one before, unless another call or
   * instance created it first (so instances racing to seed agree).
   */
  seedWindow(groupId: string, limit: AppliedLimit, now: number): Promise<void> {
    if (!isSeededWindow(limit.window)) return Promise.resolve();
    const ref: CounterRef = { groupId, scope: limit.scope, scopeId: limit.scopeId, usageTypes: limit.usageTypes };
    const key = counterKey(groupId, limit, 0);
    const ttl = 2 * windowMs(limit)!;
    return this.options.seeder.seedWindow(key, ref, limit.window, now, (s) => seedWindowInRedis(this.options.redis, key, s.counter, ttl));
  }

  /**
   * Loads a group's credits into Redis for a period (its recurring grant
   * issued first), unless another call or instance did: what Redis holds
   * of a grant's use stands over the store's, which may not have it yet.
   */
  loadCredits(groupId: string, period: Span, credits: CallCredits): Promise<void> {
    return this.options.seeder.seedCredits(groupId, period, credits.periodGrant, (state) => mergeInRedis(this.options.redis, groupId, state, { periodStart: period.start }));
  }

  /** Charges a group's credits in Redis (loading them first when needed): refused when they cannot cover it, unless it may overdraw. */
  async chargeOne(c: CreditCharge, mayOverdraw: boolean): Promise<{ allowed: boolean; balance: number; movements: CreditMovement[] }> {
    for (;;) {
      const answer = await chargeInRedis(this.options.redis, c.groupId, c.amount, c.now, c.period.start, mayOverdraw);
      if (answer !== null) return answer;
      await this.loadCredits(c.groupId, c.period, c.credits);
    }
  }

  async charge(charges: readonly CreditCharge[]): Promise<CreditMovement[][]> {
    const all: CreditMovement[][] = [];
    // In order, each on what the last left (a batch's events of one group are charged as they come).
    for (const c of charges) all.push((await this.chargeOne(c, true)).movements);
    return all;
  }

  giveBack(groupId: string, movements: readonly CreditMovement[]): Promise<void> {
    return giveBackInRedis(this.options.redis, groupId, movements);
  }

  mergeCredits(groupId: string, state: CreditState): Promise<void> {
    return mergeInRedis(this.options.redis, groupId, state, null);
  }

  /** Drops groups' credits from Redis: the next call loads them again from PostgreSQL (after this instance's writes are in). */
  async forgetCredits(groupIds: readonly string[]): Promise<void> {
    await Promise.all(groupIds.map((g) => this.options.redis.del(creditsKey(g))));
  }

  /** Ingested usage as additions to the counters of the periods it falls in. */
  additions(accepted: readonly AcceptedUsage[]): Promise<UsageAddition[]> {
    return additionsOf(accepted, this.options.periodOf);
  }

  /** Counters outlive their period by a day, for late events and usage reads. */
  protected quotaTtl(period: Span): number {
    return Math.max(period.end - this.options.now(), 0) + 86_400_000;
  }
}

/**
 * Strict limits: every call is one Lua script in Redis, which applies all
 * of its limits atomically across all instances; a period counter Redis
 * does not hold yet is seeded first.
 */
export class RedisStrictLimiter extends RedisCounters implements Limiter {
  async admit(request: MeterRequest): Promise<MeterResult> {
    for (;;) {
      const answer = await admitInRedis(this.options.redis, request, this.quotaTtl(request.period));
      if (answer.kind === 'decided') return answer.result;
      if (answer.kind === 'missing-credits') await this.loadCredits(request.groupId, request.period, request.credits!);
      else if (answer.limit.window === 'billing_period') await this.seed(request.groupId, answer.limit, request.period);
      else await this.seedWindow(request.groupId, answer.limit, request.now);
    }
  }

  adjust(request: MeterRequest, delta: number): Promise<void> {
    return adjustInRedis(this.options.redis, request, delta);
  }

  async ingested(accepted: readonly AcceptedUsage[]): Promise<void> {
    await this.add(await this.additions(accepted));
  }

  /** Adds usage to the counters, where they exist (a counter seeded since is not added to twice). */
  add(additions: readonly UsageAddition[]): Promise<void> {
    return addUsageInRedis(this.options.redis, additions);
  }

  async read(request: LimitRead): Promise<LimitState[]> {
    const readings = await Promise.all(request.limits.map(async (limit): Promise<Reading> => {
      if (limit.window === 'billing_period') return { kind: 'period', used: (await this.shared(request.groupId, limit, request.period)).used };
      const key = counterKey(request.groupId, limit, request.period.start);
      let h = await this.options.redis.hmget(key, 's', 'p', 'c');
      if (h[0] === null && isSeededWindow(limit.window)) {
        await this.seedWindow(request.groupId, limit, request.now);
        h = await this.options.redis.hmget(key, 's', 'p', 'c');
      }
      const kept = h[0] === null ? undefined : { windowStart: Number(h[0]), previous: Number(h[1] ?? 0), current: Number(h[2] ?? 0) };
      return { kind: 'window', counter: advance(kept, request.now, windowMs(limit)!) };
    }));
    return limitStates(request, readings);
  }

  async close(): Promise<void> {}
}
