import type { Redis } from 'ioredis';
import type { MeterRequest, MeterResult } from '../../domain/metering.js';
import type { Span } from '../../domain/periods.js';
import type { CounterSeeder } from '../../engine/counter-seeder.js';
import type { AcceptedUsage, Limiter, Pair, Scope } from '../../engine/ports.js';
import { additionsOf, addUsageInRedis, adjustInRedis, admitInRedis, quotaCounter, seedQuota, type UsageAddition } from './redis-limiter.js';

export interface RedisCountersOptions {
  redis: Redis;
  seeder: CounterSeeder;
  now: () => number;
  /** The billing period of the group that holds `ts` (for ingested events). */
  periodOf(groupId: string, ts: number): Promise<Span>;
}

/**
 * The quota counters in Redis, shared by every instance: read, seeded from
 * the rollups (through the engine's seeder, with SET NX so that instances
 * racing to seed agree on one value), added to.
 */
export class RedisCounters {
  constructor(protected readonly options: RedisCountersOptions) {}

  /** A quota counter's units, seeded first when Redis does not hold it (`seeded`: this call seeded it). */
  async shared(pair: Pair, scope: Scope): Promise<{ used: number; seeded: boolean }> {
    for (let seeded = false; ; seeded = true) {
      const used = await quotaCounter(this.options.redis, pair, scope);
      if (used !== null) return { used, seeded };
      await this.seed(pair, scope);
    }
  }

  /**
   * Sets a quota counter to the units the rollups hold, unless another call
   * or instance set it first. A call is admitted only against an existing
   * counter, so when a counter is first created nothing admitted can be
   * missing from the sum. When Redis lost a counter (a restart without
   * persistence), this instance's own calls are committed first; another
   * instance's call committing in the same milliseconds can be missed.
   */
  seed(pair: Pair, scope: Scope): Promise<void> {
    return this.options.seeder.seed(pair, scope, (s) => seedQuota(this.options.redis, pair, scope, s.units, this.quotaTtl(pair.period), s.snapshot));
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
 * Strict limits: every call is one Lua script in Redis, which applies both
 * windows and both quotas atomically across all instances; a quota counter
 * Redis does not hold yet is seeded first.
 */
export class RedisStrictLimiter extends RedisCounters implements Limiter {
  async admit(request: MeterRequest): Promise<MeterResult> {
    for (;;) {
      const answer = await admitInRedis(this.options.redis, request, this.quotaTtl(request.period));
      if (answer.kind === 'decided') return answer.result;
      await this.seed(request, answer.scope);
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

  async usage(pair: Pair): Promise<{ groupUsed: number; appUsed: number }> {
    const [group, app] = await Promise.all([this.shared(pair, 'group'), this.shared(pair, 'app')]);
    return { groupUsed: group.used, appUsed: app.used };
  }

  async close(): Promise<void> {}
}
