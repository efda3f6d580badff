import type { CounterRef } from '../domain/limits.js';
import type { Span } from '../domain/periods.js';
import type { RollupStore } from '../domain/rollups.js';
import { unitsFor } from '../domain/counter-units.js';
import type { CounterSeedSource, Pair, Scope, Seed, SeedSource } from './ports.js';

/**
 * Seeds a counter from the rollups, the first time a limiter needs it in a
 * period or window (or after the shared counters lost it). Concurrent first
 * calls for one counter share one load, and a load begins only once every
 * write accepted before it is durable, so that nothing admitted is missing
 * from the sum. `plant` puts the units where the limiter keeps its counters
 * (memory, or Redis with SET NX, where instances racing to seed agree).
 *
 * A counter is what a `CounterRef` counts over a span: limits that count the
 * same usage over the same span share it, and its one load.
 */
export class CounterSeeder {
  private readonly loading = new Map<string, Promise<void>>();

  /**
   * @param settled resolves once the writes accepted so far are durable.
   * @param source the units the rollups hold for a counter.
   */
  constructor(private readonly settled: () => Promise<void>, private readonly source: CounterSeedSource) {}

  /** Seeds the quota counter of a group (every usage type) or of one of its apps, for a billing period. */
  seed(pair: Pair, scope: Scope, plant: (seed: Seed) => unknown): Promise<void> {
    return this.seedCounter(pairCounter(pair, scope), pair.period, plant);
  }

  /** Seeds any counter over a span (a billing period, or a fixed window). */
  seedCounter(ref: CounterRef, span: Span, plant: (seed: Seed) => unknown): Promise<void> {
    const key = counterKey(ref, span);
    let load = this.loading.get(key);
    if (load === undefined) {
      load = (async () => {
        await this.settled();
        await plant(await this.source(ref, span));
      })().finally(() => this.loading.delete(key));
      this.loading.set(key, load);
    }
    return load;
  }
}

/** The counter a quota of the pair's form counts: the group's or the app's, every usage type. */
export function pairCounter(pair: Pair, scope: Scope): CounterRef {
  return { groupId: pair.groupId, scope, scopeId: scope === 'group' ? pair.groupId : pair.appId, usageTypes: null };
}

/** A counter's identity: its usage types in any order are one counter. */
function counterKey(ref: CounterRef, span: Span): string {
  const types = ref.usageTypes === null ? null : [...ref.usageTypes].sort();
  return JSON.stringify([ref.groupId, ref.scope, ref.scopeId, types, span.start, span.end]);
}

/** Any counter's units over a span, summed from the rollups (src/domain/counter-units.ts). */
export function rollupSeeds(rollups: RollupStore): CounterSeedSource {
  return async (ref, span) => ({ units: await unitsFor(rollups, ref, span) });
}

/** The group's (or one of its apps') units in the period, every usage type: `rollupSeeds` by group and app. */
export function rollupUnits(rollups: RollupStore): SeedSource {
  const seeds = rollupSeeds(rollups);
  return (pair, scope) => seeds(pairCounter(pair, scope), pair.period);
}
