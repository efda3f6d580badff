import type { AppliedLimit, LimitState, MeterRequest, MeterResult } from '../../domain/metering.js';
import type { Span } from '../../domain/periods.js';
import type { CallCredits, CreditMovement, CreditState } from '../../domain/credits.js';
import type { AcceptedUsage, CreditCharge, LimitRead, Limiter } from '../../engine/ports.js';
import { LocalLimiter } from '../../limits/local-limiter.js';
import { counterKey, type UsageAddition } from '../redis/redis-limiter.js';
import type { RedisStrictLimiter } from '../redis/redis-strict-limiter.js';
import type { FailOpenRedis } from './redis-path.js';

/** The units PostgreSQL holds for a period counter (no waiting on writes: they may be spooled). */
export type DurableUnits = (groupId: string, limit: AppliedLimit, period: Span) => Promise<number>;

/**
 * Strict limits in fail-open mode: Redis decides while it can be reached;
 * without it, this process's own limiter decides (seeded from PostgreSQL, or
 * from the last counts Redis gave), and what it admits is added to Redis's
 * counters when Redis is back. Limits are per instance while Redis is away.
 */
export class FailOpenLimiter implements Limiter {
  private fallback = new LocalLimiter();
  private outageUsage: UsageAddition[] = [];
  /** The last period counts Redis answered, to seed the local limiter when PostgreSQL is away too. */
  private readonly lastKnown = new Map<string, number>();

  /** Groups whose credits were spent here while Redis was away: Redis loads them again from PostgreSQL once the spool is in. */
  private outageCredits = new Set<string>();

  constructor(
    private readonly redis: RedisStrictLimiter,
    private readonly path: FailOpenRedis,
    private readonly durableUnits: DurableUnits,
    private readonly durableCredits: (groupId: string, period: Span, credits: CallCredits) => Promise<CreditState>,
  ) {
    path.watch(() => {
      this.fallback = new LocalLimiter();
    }, () => this.handBack());
  }

  admit(request: MeterRequest): Promise<MeterResult> {
    return this.path.run(async () => {
      const result = await this.redis.admit(request);
      this.remember(request, result.limits);
      return result;
    }, async () => {
      await this.loadLocally(request);
      const decision = this.fallback.admit(request);
      if (decision.allowed && request.mode !== 'rate_only') this.outageUsage.push(addition(request, request.cost));
      if (decision.movements !== undefined) this.outageCredits.add(request.groupId);
      return decision;
    });
  }

  charge(charges: readonly CreditCharge[]): Promise<CreditMovement[][]> {
    return this.path.run(() => this.redis.charge(charges), async () => {
      const all: CreditMovement[][] = [];
      for (const c of charges) {
        await this.loadCreditsLocally(c.groupId, c.period, c.credits);
        const { movements } = this.fallback.credits.plan(c.groupId, c.amount, c.now, true);
        this.fallback.credits.apply(c.groupId, movements);
        this.outageCredits.add(c.groupId);
        all.push(movements);
      }
      return all;
    });
  }

  giveBack(groupId: string, movements: readonly CreditMovement[]): Promise<void> {
    return this.path.run(() => this.redis.giveBack(groupId, movements), () => this.fallback.credits.apply(groupId, movements, -1));
  }

  mergeCredits(groupId: string, state: CreditState): Promise<void> {
    return this.path.run(() => this.redis.mergeCredits(groupId, state), () => this.fallback.credits.merge(groupId, state));
  }

  adjust(request: MeterRequest, delta: number): Promise<void> {
    return this.path.run(() => this.redis.adjust(request, delta), () => {
      this.fallback.adjust(request, delta);
      if (request.mode !== 'rate_only') this.outageUsage.push(addition(request, delta));
    });
  }

  async ingested(accepted: readonly AcceptedUsage[]): Promise<void> {
    const additions = await this.redis.additions(accepted);
    await this.path.run(() => this.redis.add(additions), () => {
      // Usage that bypassed the limits while Redis is away: into the local counters, and into Redis's later.
      for (const a of additions) {
        this.fallback.addUsage(a.limits, a.period.start, a.count);
        this.outageUsage.push(a);
      }
    });
  }

  read(request: LimitRead): Promise<LimitState[]> {
    return this.path.run(async () => {
      const states = await this.redis.read(request);
      this.remember(request, states);
      return states;
    }, async () => {
      await this.loadLocally(request);
      return this.fallback.states(request);
    });
  }

  close(): Promise<void> {
    return this.redis.close();
  }

  private remember(request: LimitRead, states: readonly LimitState[]): void {
    request.limits.forEach((limit, i) => {
      if (limit.window === 'billing_period') this.lastKnown.set(counterKey(request.groupId, limit, request.period.start), states[i]!.used);
    });
  }

  /** Adds to Redis's counters what was admitted here while it was away. */
  private async handBack(): Promise<void> {
    const credits = [...this.outageCredits];
    this.outageCredits = new Set();
    // What was spent here is in the events spooled for PostgreSQL: Redis loads those groups again, once it holds them.
    if (credits.length > 0) await this.redis.forgetCredits(credits);
    while (this.outageUsage.length > 0) {
      const additions = this.outageUsage;
      this.outageUsage = [];
      await this.redis.add(additions).catch((error: unknown) => {
        this.outageUsage.unshift(...additions);
        throw error;
      });
    }
  }

  /** Loads a group's credits here from PostgreSQL; when it cannot be read either, the group is served without them. */
  private async loadCreditsLocally(groupId: string, period: Span, credits: CallCredits): Promise<boolean> {
    if (this.fallback.credits.loaded(groupId, period.start)) return true;
    try {
      this.fallback.credits.merge(groupId, await this.durableCredits(groupId, period, credits), period.start);
      return true;
    } catch {
      return false;
    }
  }

  /** Seeds the local limiter's period counters: from PostgreSQL, or from what Redis last said. */
  private async loadLocally(request: LimitRead): Promise<void> {
    if (request.credits !== undefined && !(await this.loadCreditsLocally(request.groupId, request.period, request.credits))) {
      throw new Error('credits cannot be loaded while both stores are away');
    }
    for (const limit of this.fallback.missingUsage(request.limits, request.period)) {
      let used: number;
      try {
        used = await this.durableUnits(request.groupId, limit, request.period);
      } catch {
        used = this.lastKnown.get(counterKey(request.groupId, limit, request.period.start)) ?? 0;
      }
      this.fallback.setUsage(limit, request.period, used);
    }
  }
}

/** What an admitted call (or a change to it) adds to the period counters it consumed. */
function addition(request: MeterRequest, count: number): UsageAddition {
  return { groupId: request.groupId, limits: request.limits, period: request.period, count };
}
