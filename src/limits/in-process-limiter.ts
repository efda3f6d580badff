import type { MeterRequest, MeterResult } from '../domain/metering.js';
import type { CounterSeeder } from '../engine/counter-seeder.js';
import type { AcceptedUsage, Limiter, Pair } from '../engine/ports.js';
import { LocalLimiter } from './local-limiter.js';

/**
 * The limiter of a store that is the only writer of its usage (the embedded
 * store): counters in this process, decided synchronously so that no two
 * calls interleave between the check and the update, each quota counter
 * seeded from the rollups the first time its group or app is seen in a period.
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
    for (const { event: e } of accepted) this.counters.addUsage(e.groupId, e.appId, e.ts, e.count);
  }

  async usage(pair: Pair): Promise<{ groupUsed: number; appUsed: number }> {
    await this.load(pair);
    return this.counters.usage(pair.groupId, pair.appId, pair.period);
  }

  /** Forgets idle windows (run every minute by the store's scheduler). */
  sweep(now: number): void {
    this.counters.sweep(now);
  }

  async close(): Promise<void> {}

  private async load(pair: Pair): Promise<void> {
    for (const { scope, id } of this.counters.missingUsage(pair.groupId, pair.appId, pair.period)) {
      await this.seeder.seed(pair, scope, (seed) => this.counters.setUsage(scope, id, pair.period, seed.units));
    }
  }
}
