import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { seedWindowCounter, unitsFor, unitsForSpans, windowUnits } from '../../src/domain/counter-units.js';
import type { CounterRef } from '../../src/domain/limits.js';
import type { Span } from '../../src/domain/periods.js';
import { LEVEL_MS, type RollupQuery, type RollupStore, type RollupSum } from '../../src/domain/rollups.js';
import { RollupBuffer, type RolledUpEvent } from '../../src/store/rollup-buffer.js';

const QUARTER = LEVEL_MS.quarter;
const T0 = Date.parse('2026-03-01T00:00:00Z');

/** A RollupStore in memory, holding what RollupBuffer writes for the events: the rows the stores keep. */
function rollupsOf(events: readonly RolledUpEvent[]): RollupStore & { queries: RollupQuery[] } {
  const buffer = new RollupBuffer();
  for (const event of events) buffer.add(event);
  const deltas = buffer.drain();
  const queries: RollupQuery[] = [];
  return {
    queries,
    async sumRollups(query) {
      queries.push(query);
      return query.segments.map((segment) => {
        const sums = new Map<string, RollupSum>();
        for (const d of deltas) {
          if (d.level !== segment.level || d.groupId !== query.groupId || d.dimension !== query.dimension) continue;
          if (d.bucket < segment.start || d.bucket >= segment.end) continue;
          const sum = sums.get(d.value) ?? { value: d.value, count: 0, appId: null, usageType: null, requestArgsHash: null };
          sum.count += d.count;
          sums.set(d.value, sum);
        }
        return [...sums.values()];
      });
    },
  };
}

/** What a counter holds, from the events themselves: the rule the rollups must reproduce. */
function model(events: readonly RolledUpEvent[], ref: CounterRef, span: Span): number {
  return events.filter((e) => e.groupId === ref.groupId && e.ts >= span.start && e.ts < span.end)
    .filter((e) => ref.scope === 'group' || (ref.scope === 'app' ? e.appId === ref.scopeId : e.keyId === ref.scopeId))
    .filter((e) => ref.usageTypes === null || ref.usageTypes.includes(e.usageType))
    .reduce((total, e) => total + e.count, 0);
}

const call = (over: Partial<RolledUpEvent>): RolledUpEvent => ({
  ts: T0 + 3_600_000, groupId: 'g', appId: 'a1', keyId: 'k1', usageType: 'image', requestArgsHash: '', count: 1, ...over,
});

describe('unitsFor', () => {
  const march: Span = { start: T0, end: Date.parse('2026-04-01T00:00:00Z') };
  const events = [
    call({ count: 2 }),
    call({ usageType: 'pdf', count: 5, requestArgsHash: 'h' }),
    call({ keyId: 'k2', usageType: 'image', count: 3 }),
    call({ appId: 'a2', keyId: 'k3', usageType: 'pdf', count: 7 }),
    // Ingested: no key.
    call({ keyId: null, usageType: 'image', count: 11 }),
    call({ appId: 'a2', keyId: null, usageType: 'audio', count: 13 }),
    // Another group, and another month: counted by none of g's March counters.
    call({ groupId: 'other', count: 100 }),
    call({ ts: Date.parse('2026-04-01T00:00:00Z'), count: 1000 }),
  ];
  const rollups = rollupsOf(events);
  const ref = (scope: CounterRef['scope'], scopeId: string, usageTypes: string[] | null): CounterRef => ({ groupId: 'g', scope, scopeId, usageTypes });

  test('each kind of counter reads back exactly its usage', async () => {
    const cases: Array<[CounterRef, number]> = [
      [ref('group', 'g', null), 2 + 5 + 3 + 7 + 11 + 13],
      [ref('group', 'g', ['image']), 2 + 3 + 11],
      [ref('group', 'g', ['pdf', 'audio']), 5 + 7 + 13],
      [ref('app', 'a1', null), 2 + 5 + 3 + 11],
      [ref('app', 'a1', ['image']), 2 + 3 + 11],
      [ref('app', 'a2', ['pdf', 'image']), 7],
      [ref('app', 'a3', null), 0],
      [ref('key', 'k1', null), 2 + 5],
      [ref('key', 'k1', ['pdf']), 5],
      [ref('key', 'k2', ['image', 'pdf']), 3],
      [ref('key', 'k3', ['image']), 0],
    ];
    for (const [counter, units] of cases) {
      assert.equal(await unitsFor(rollups, counter, march), units, JSON.stringify(counter));
      assert.equal(model(events, counter, march), units, 'the model agrees');
    }
  });

  test('reads the dimension that counts it: the group and app totals from app_id, as usage queries do', async () => {
    const dimensionOf = async (counter: CounterRef) => {
      rollups.queries.length = 0;
      await unitsFor(rollups, counter, march);
      return rollups.queries.map((q) => q.dimension);
    };
    assert.deepEqual(await dimensionOf(ref('group', 'g', null)), ['app_id']);
    assert.deepEqual(await dimensionOf(ref('group', 'g', ['image'])), ['usage_type']);
    assert.deepEqual(await dimensionOf(ref('app', 'a1', null)), ['app_id']);
    assert.deepEqual(await dimensionOf(ref('app', 'a1', ['image'])), ['app:a1']);
    assert.deepEqual(await dimensionOf(ref('key', 'k1', null)), ['key:k1']);
  });

  test('property: equal to the sum over the events, for every kind of counter and any span on 15-minute edges', () => {
    const arbitraryEvent = fc.record({
      ts: fc.integer({ min: 0, max: 3 * 86_400_000 }).map((ms) => T0 + ms),
      groupId: fc.constantFrom('g', 'h'),
      appId: fc.constantFrom('a1', 'a2'),
      keyId: fc.constantFrom('k1', 'k2', null),
      usageType: fc.constantFrom('image', 'pdf', 'audio'),
      requestArgsHash: fc.constantFrom('', 'x'),
      count: fc.integer({ min: 0, max: 50 }),
    });
    const arbitraryRef = fc.record({
      groupId: fc.constantFrom('g', 'h'),
      scope: fc.constantFrom('group' as const, 'app' as const, 'key' as const),
      scopeId: fc.constantFrom('a1', 'a2', 'k1', 'k2'),
      usageTypes: fc.option(fc.subarray(['image', 'pdf', 'audio']), { nil: null }),
    });
    return fc.assert(fc.asyncProperty(fc.array(arbitraryEvent, { maxLength: 40 }), arbitraryRef,
      fc.integer({ min: 0, max: 4 * 96 }), fc.integer({ min: 0, max: 4 * 96 }), async (evs, counter, a, b) => {
        const span = { start: T0 + Math.min(a, b) * QUARTER, end: T0 + Math.max(a, b) * QUARTER };
        assert.equal(await unitsFor(rollupsOf(evs), counter, span), model(evs, counter, span));
      }), { numRuns: 300 });
  });

  test('several spans in one query, each summed on its own', async () => {
    const counter = ref('key', 'k1', null);
    rollups.queries.length = 0;
    const spans = [march, { start: T0, end: T0 + 3_600_000 }, { start: T0 + 3_600_000, end: T0 + 3_600_000 + QUARTER }];
    assert.deepEqual(await unitsForSpans(rollups, counter, spans), [7, 0, 7]);
    assert.equal(rollups.queries.length, 1);
  });
});

describe('windowUnits', () => {
  const at = (iso: string) => Date.parse(iso);
  const events = [
    call({ ts: at('2026-03-01T09:59:59.999Z'), count: 1 }),
    call({ ts: at('2026-03-01T10:00:00Z'), count: 2 }),
    call({ ts: at('2026-03-01T10:14:00Z'), count: 4 }),
    call({ ts: at('2026-03-01T10:59:00Z'), count: 8 }),
    call({ ts: at('2026-03-01T11:05:00Z'), count: 16 }),
    call({ ts: at('2026-03-01T11:20:00Z'), usageType: 'pdf', count: 32 }),
  ];
  const rollups = rollupsOf(events);
  const all: CounterRef = { groupId: 'g', scope: 'key', scopeId: 'k1', usageTypes: null };

  test('exact on hour and day edges', async () => {
    assert.equal(await windowUnits(rollups, all, at('2026-03-01T10:00:00Z'), at('2026-03-01T11:00:00Z')), 2 + 4 + 8);
    assert.equal(await windowUnits(rollups, all, at('2026-03-01T09:00:00Z'), at('2026-03-01T10:00:00Z')), 1);
    assert.equal(await windowUnits(rollups, all, at('2026-03-01T00:00:00Z'), at('2026-03-02T00:00:00Z')), 63);
    assert.equal(await windowUnits(rollups, { ...all, usageTypes: ['pdf'] }, at('2026-03-01T11:00:00Z'), at('2026-03-01T12:00:00Z')), 32);
  });

  test('an edge inside a 15-minute bucket counts that bucket whole: never less than the window holds', async () => {
    // 11:21 is inside the 11:15 bucket, which holds the call of 11:20.
    assert.equal(await windowUnits(rollups, all, at('2026-03-01T11:00:00Z'), at('2026-03-01T11:21:00Z')), 16 + 32);
    // 10:05 to 10:10: the 10:00 bucket whole.
    assert.equal(await windowUnits(rollups, all, at('2026-03-01T10:05:00Z'), at('2026-03-01T10:10:00Z')), 2 + 4);
  });

  test('seedWindowCounter: the previous and current fixed windows of an hour or day limit, in one query', async () => {
    rollups.queries.length = 0;
    const now = at('2026-03-01T11:21:00Z');
    assert.deepEqual(await seedWindowCounter(rollups, all, 'hour', now), { windowStart: at('2026-03-01T11:00:00Z'), previous: 14, current: 48 });
    assert.deepEqual(await seedWindowCounter(rollups, all, 'day', now), { windowStart: at('2026-03-01T00:00:00Z'), previous: 0, current: 63 });
    // At the window's first instant, the current window already holds what was stamped in it (here 10:00:00 itself).
    assert.deepEqual(await seedWindowCounter(rollups, all, 'hour', at('2026-03-01T10:00:00Z')), { windowStart: at('2026-03-01T10:00:00Z'), previous: 1, current: 14 });
    assert.equal(rollups.queries.length, 3);
  });
});
