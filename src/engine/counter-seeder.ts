import type { RollupStore } from '../domain/rollups.js';
import { unitsInPeriod } from '../domain/rollup-segments.js';
import type { Pair, Scope, Seed, SeedSource } from './ports.js';

/**
 * Seeds a quota counter from the rollups, the first time a limiter needs it
 * in a period (or after the shared counters lost it). Concurrent first calls
 * for one counter share one load, and a load begins only once every write
 * accepted before it is durable, so that nothing admitted is missing from
 * the sum. `plant` puts the units where the limiter keeps its counters
 * (memory, or Redis with SET NX, where instances racing to seed agree).
 */
export class CounterSeeder {
  private readonly loading = new Map<string, Promise<void>>();

  /**
   * @param settled resolves once the writes accepted so far are durable.
   * @param source the units the rollups hold for a counter.
   */
  constructor(private readonly settled: () => Promise<void>, private readonly source: SeedSource) {}

  seed(pair: Pair, scope: Scope, plant: (seed: Seed) => unknown): Promise<void> {
    const key = `${scope}:${scope === 'group' ? pair.groupId : pair.appId}:${pair.period.start}`;
    let load = this.loading.get(key);
    if (load === undefined) {
      load = (async () => {
        await this.settled();
        await plant(await this.source(pair, scope));
      })().finally(() => this.loading.delete(key));
      this.loading.set(key, load);
    }
    return load;
  }
}

/** The group's (or one of its apps') units in the period, summed from the app_id rollups like any usage query. */
export function rollupUnits(rollups: RollupStore): SeedSource {
  return async (pair, scope) => ({ units: await unitsInPeriod(rollups, pair.groupId, scope === 'group' ? null : pair.appId, pair.period) });
}
