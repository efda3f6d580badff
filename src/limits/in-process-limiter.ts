import type { LimitState, MeterRequest, MeterResult } from '../domain/metering.js';
import type { CounterSeeder } from '../engine/counter-seeder.js';
import type { AcceptedUsage, LimitRead, Limiter } from '../engine/ports.js';
import { LocalLimiter } from './local-limiter.js';

/**
 * The limiter of a store that is the only writer of its usage (the embedded
 * store): counters in this process, decided synchronously so that no two
 * calls interleave between the check and the update, each billing-period
 * counter seeded from the rollups the first time it is needed in a period.
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
    for (const { event, limits } of accepted) this.counters.addUsage(limits, event.ts, event.count);
  }

  async read(request: LimitRead): Promise<LimitState[]> {
    await this.load(request);
    return this.counters.states(request);
  }

  /** Forgets idle windows (run every minute by the store's scheduler). */
  sweep(now: number): void {
    this.counters.sweep(now);
  }

  async close(): Promise<void> {}

  private async load({ groupId, limits, period }: LimitRead): Promise<void> {
    for (const limit of this.counters.missingUsage(limits, period)) {
      await this.seeder.seed({ ...limit, groupId }, period, (seed) => this.counters.setUsage(limit, period, seed.units));
    }
  }
}
