import type { LimitState, MeterRequest, MeterResult } from '../domain/metering.js';
import type { CounterSeeder } from '../engine/counter-seeder.js';
import type { CallCredits, CreditMovement, CreditState } from '../domain/credits.js';
import type { Span } from '../domain/periods.js';
import type { AcceptedUsage, CreditCharge, LimitRead, Limiter } from '../engine/ports.js';
import { counterId } from '../domain/limit-decision.js';
import { isSeededWindow } from '../domain/limits.js';
import { LocalLimiter } from './local-limiter.js';

/**
 * The limiter of a store that is the only writer of its usage (the embedded
 * store): counters in this process, decided synchronously so that no two
 * calls interleave between the check and the update, each billing-period
 * counter seeded from the rollups the first time it is needed in a period,
 * and each hour or day window the first time it is needed (after a restart
 * too: what the day held before it still counts).
 */
export class InProcessLimiter implements Limiter {
  private readonly counters = new LocalLimiter();

  constructor(private readonly seeder: CounterSeeder) {}

  async admit(request: MeterRequest): Promise<MeterResult> {
    await this.load(request);
    // From here to the admission nothing awaits, so no other call can slip in between.
    return this.counters.admit(request);
  }

  async adjust(request: MeterRequest, delta: number): Promise<void> {
    this.counters.adjust(request, delta);
  }

  async ingested(accepted: readonly AcceptedUsage[]): Promise<void> {
    for (const { event, limits } of accepted) {
      this.counters.addUsage(limits, event.ts, event.count);
      this.counters.addWindowUsage(limits, event.ts, event.count);
    }
  }

  async read(request: LimitRead): Promise<LimitState[]> {
    await this.load(request);
    return this.counters.states(request);
  }

  async charge(charges: readonly CreditCharge[]): Promise<CreditMovement[][]> {
    for (const c of charges) await this.loadCredits(c.groupId, c.period, c.credits);
    // Loaded: from here on nothing awaits, so the charges are spread in order, each on what the last left.
    return charges.map((c) => {
      const { movements } = this.counters.credits.plan(c.groupId, c.amount, c.now, true);
      this.counters.credits.apply(c.groupId, movements);
      return movements;
    });
  }

  async giveBack(groupId: string, movements: readonly CreditMovement[]): Promise<void> {
    this.counters.credits.apply(groupId, movements, -1);
  }

  async mergeCredits(groupId: string, state: CreditState): Promise<void> {
    this.counters.credits.merge(groupId, state);
  }

  /** The group's balance at `now` (loading its credits for the period first), for the usage reads. */
  async balance(groupId: string, period: Span, credits: CallCredits, now: number): Promise<number> {
    await this.loadCredits(groupId, period, credits);
    return this.counters.credits.balanceAt(groupId, now);
  }

  /** Forgets idle windows (run every minute by the store's scheduler). */
  sweep(now: number): void {
    this.counters.sweep(now);
  }

  async close(): Promise<void> {}

  private async loadCredits(groupId: string, period: Span, credits: CallCredits): Promise<void> {
    if (this.counters.credits.loaded(groupId, period.start)) return;
    await this.seeder.seedCredits(groupId, period, credits.periodGrant, (state) => {
      // Loaded meanwhile by another call: what this process spent since is in it already.
      if (!this.counters.credits.loaded(groupId, period.start)) this.counters.credits.merge(groupId, state, period.start);
    });
  }

  private async load({ groupId, limits, period, credits, now }: LimitRead): Promise<void> {
    if (credits !== undefined) await this.loadCredits(groupId, period, credits);
    for (const limit of this.counters.missingUsage(limits, period)) {
      await this.seeder.seed(counterId(limit), { ...limit, groupId }, period, (seed) => this.counters.setUsage(limit, period, seed.units));
    }
    for (const limit of this.counters.missingWindows(limits)) {
      if (!isSeededWindow(limit.window)) continue;
      const window = limit.window;
      await this.seeder.seedWindow(counterId(limit), { ...limit, groupId }, window, now, (seed) => this.counters.setWindow(limit, seed.counter));
    }
  }
}
