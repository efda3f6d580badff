import type { MeterRequest, MeterResult } from '../../domain/metering.js';
import type { AcceptedUsage, Limiter, Pair, Scope } from '../../engine/ports.js';
import { LocalLimiter } from '../../limits/local-limiter.js';
import { quotaKey, type UsageAddition } from '../redis/redis-limiter.js';
import type { RedisStrictLimiter } from '../redis/redis-strict-limiter.js';
import type { FailOpenRedis } from './redis-path.js';

/**
 * Strict limits in fail-open mode: Redis decides while it can be reached;
 * without it, this process's own limiter decides (seeded from PostgreSQL, or
 * from the last counts Redis gave), and what it admits is added to Redis's
 * counters when Redis is back. Limits are per instance while Redis is away.
 */
export class FailOpenLimiter implements Limiter {
  private fallback = new LocalLimiter();
  private outageUsage: UsageAddition[] = [];
  /** The last quota counts Redis answered, to seed the local limiter when PostgreSQL is away too. */
  private readonly lastKnown = new Map<string, number>();

  /** @param durableUnits the units PostgreSQL holds for a counter (no waiting on writes: they may be spooled). */
  constructor(
    private readonly redis: RedisStrictLimiter,
    private readonly path: FailOpenRedis,
    private readonly durableUnits: (pair: Pair, scope: Scope) => Promise<number>,
  ) {
    path.watch(() => {
      this.fallback = new LocalLimiter();
    }, () => this.handBack());
  }

  admit(request: MeterRequest): Promise<MeterResult> {
    return this.path.run(async () => {
      const result = await this.redis.admit(request);
      this.lastKnown.set(quotaKey(request, 'group'), result.groupUsed);
      this.lastKnown.set(quotaKey(request, 'app'), result.appUsed);
      return result;
    }, async () => {
      await this.loadLocally(request);
      const decision = this.fallback.admit(request);
      if (decision.allowed && request.mode !== 'rate_only') this.outageUsage.push({ ...request, count: request.cost });
      return decision;
    });
  }

  adjust(request: MeterRequest, delta: number): Promise<void> {
    return this.path.run(() => this.redis.adjust(request, delta), () => {
      this.fallback.adjust(request, delta);
      if (request.mode !== 'rate_only') this.outageUsage.push({ ...request, count: delta });
    });
  }

  async ingested(accepted: readonly AcceptedUsage[]): Promise<void> {
    const additions = await this.redis.additions(accepted);
    await this.path.run(() => this.redis.add(additions), () => {
      // Usage that bypassed the limits while Redis is away: into the local counters, and into Redis's later.
      for (const a of additions) {
        this.fallback.addUsage(a.groupId, a.appId, a.period.start, a.count);
        this.outageUsage.push(a);
      }
    });
  }

  usage(pair: Pair): Promise<{ groupUsed: number; appUsed: number }> {
    return this.path.run(() => this.redis.usage(pair), async () => {
      await this.loadLocally(pair);
      return this.fallback.usage(pair.groupId, pair.appId, pair.period);
    });
  }

  close(): Promise<void> {
    return this.redis.close();
  }

  /** Adds to Redis's counters what was admitted here while it was away. */
  private async handBack(): Promise<void> {
    while (this.outageUsage.length > 0) {
      const additions = this.outageUsage;
      this.outageUsage = [];
      await this.redis.add(additions).catch((error: unknown) => {
        this.outageUsage.unshift(...additions);
        throw error;
      });
    }
  }

  /** Seeds the local limiter for a group and app: from PostgreSQL, or from what Redis last said. */
  private async loadLocally(pair: Pair): Promise<void> {
    for (const { scope } of this.fallback.missingUsage(pair.groupId, pair.appId, pair.period)) {
      let used: number;
      try {
        used = await this.durableUnits(pair, scope);
      } catch {
        used = this.lastKnown.get(quotaKey(pair, scope)) ?? 0;
      }
      this.fallback.setUsage(scope, scope === 'group' ? pair.groupId : pair.appId, pair.period, used);
    }
  }
}
