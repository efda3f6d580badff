import type { CounterRef, SeededWindow } from '../domain/limits.js';
import type { Span } from '../domain/periods.js';
import type { RollupStore } from '../domain/rollups.js';
import { unitsForSpans, windowSeedSpans } from '../domain/counter-units.js';
import type { CreditState, PeriodGrant } from '../domain/credits.js';
import type { CreditSource, Seed, SeedSource, WindowSeed } from './ports.js';

/**
 * Seeds a counter from the rollups, the first time a limiter needs it in a
 * billing period or an hour or day window (or after the shared counters lost it). Concurrent first
 * calls for one counter share one load, and a load begins only once every
 * write accepted before it is durable, so that nothing admitted is missing
 * from the sum. `plant` puts the units where the limiter keeps its counters
 * (memory, or Redis with SET NX, where instances racing to seed agree).
 * A group's credits are loaded the same way.
 */
export class CounterSeeder {
  private readonly loading = new Map<string, Promise<void>>();

  /**
   * @param settled resolves once the writes accepted so far are durable.
   * @param source the units the rollups hold for a counter.
   * @param credits where groups' credits are loaded from.
   */
  constructor(private readonly settled: () => Promise<void>, private readonly source: SeedSource, private readonly credits: CreditSource) {}

  /**
   * Seeds the counter `id` (a limit's: two limits that count the same usage
   * each have their own, each planted) with what `ref` counts over `span`.
   */
  seed(id: string, ref: CounterRef, span: Span, plant: (seed: Seed) => unknown): Promise<void> {
    return this.once(loadKey(id, ref, span.start, span.end), async () => {
      const { units: [units], snapshot } = await this.source(ref, [span]);
      plant(snapshot === undefined ? { units: units! } : { units: units!, snapshot });
    });
  }

  /**
   * Seeds the hour or day window counter `id` at `now` with what `ref`
   * counts in the fixed window holding `now` (its current count) and the
   * one before (its previous count), both read at once: once per counter
   * and fixed window, like a period's.
   */
  seedWindow(id: string, ref: CounterRef, window: SeededWindow, now: number, plant: (seed: WindowSeed) => unknown): Promise<void> {
    const { windowStart, spans } = windowSeedSpans(window, now);
    return this.once(loadKey(id, ref, window, windowStart), async () => {
      const { units: [previous, current], snapshot } = await this.source(ref, spans);
      const counter = { windowStart, previous: previous!, current: current! };
      plant(snapshot === undefined ? { counter } : { counter, snapshot });
    });
  }

  /** Loads a group's credits for a period (its recurring grant issued first), the same way: once, after the writes accepted so far. */
  seedCredits(groupId: string, period: Span, periodGrant: PeriodGrant | null, plant: (state: CreditState) => unknown): Promise<void> {
    return this.once(`credits:${groupId}:${period.start}`, async () => plant(await this.credits.load(groupId, period, periodGrant)));
  }

  /** The store's view of a group's credits now (a grant made or voided). */
  readCredits(groupId: string): Promise<CreditState> {
    return this.credits.read(groupId);
  }

  private once(key: string, load: () => Promise<unknown>): Promise<void> {
    let loading = this.loading.get(key);
    if (loading === undefined) {
      loading = (async () => {
        await this.settled();
        await load();
      })().finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }
}

/** Any counter's units in each span, summed from the rollups (src/domain/counter-units.ts). */
export function rollupSeeds(rollups: RollupStore): SeedSource {
  return async (ref, spans) => ({ units: await unitsForSpans(rollups, ref, spans) });
}

/** One load per counter (its id and what it counts) and period or window. */
function loadKey(id: string, ref: CounterRef, ...when: Array<string | number>): string {
  const types = ref.usageTypes === null ? null : [...ref.usageTypes].sort();
  return JSON.stringify([id, ref.groupId, ref.scope, ref.scopeId, types, ...when]);
}
