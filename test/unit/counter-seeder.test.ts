import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CounterRef } from '../../src/domain/limits.js';
import type { Span } from '../../src/domain/periods.js';
import type { RollupStore } from '../../src/domain/rollups.js';
import { CounterSeeder, rollupSeeds } from '../../src/engine/counter-seeder.js';
import type { CreditSource, SeedSource, SpanSeeds, WindowSeed } from '../../src/engine/ports.js';

const MARCH: Span = { start: Date.parse('2026-03-01T00:00:00Z'), end: Date.parse('2026-04-01T00:00:00Z') };

/** A seed source that answers when told to, and records what it was asked. */
function heldSource() {
  const asked: Array<{ ref: CounterRef; spans: readonly Span[] }> = [];
  const pending: Array<() => void> = [];
  // The n-th load answers n * 10 for its first span, n * 10 + 1 for its second.
  const source: SeedSource = (ref, spans) => {
    asked.push({ ref, spans });
    const n = asked.length;
    return new Promise<SpanSeeds>((resolve) => pending.push(() => resolve({ units: spans.map((_, i) => n * 10 + i), snapshot: `s${n}` })));
  };
  const answerAll = async () => {
    // Loads begin once `settled` resolves: let them reach the source first.
    await new Promise((resolve) => setImmediate(resolve));
    pending.splice(0).forEach((answer) => answer());
  };
  return { source, asked, answerAll };
}

/** These tests load no credits. */
const NO_CREDITS: CreditSource = { load: () => Promise.reject(new Error('no credits')), read: () => Promise.reject(new Error('no credits')) };

const ref = (over: Partial<CounterRef> = {}): CounterRef => ({ groupId: 'g', scope: 'key', scopeId: 'k1', usageTypes: ['image', 'pdf'], ...over });

describe('CounterSeeder', () => {
  test('concurrent seeds of one counter share one load; its usage types in any order are the same counter', async () => {
    const { source, asked, answerAll } = heldSource();
    const seeder = new CounterSeeder(async () => undefined, source, NO_CREDITS);
    const planted: number[] = [];
    const loads = [
      seeder.seed('c', ref(), MARCH, (s) => planted.push(s.units)),
      seeder.seed('c', ref({ usageTypes: ['pdf', 'image'] }), MARCH, (s) => planted.push(s.units)),
    ];
    await answerAll();
    await Promise.all(loads);
    assert.equal(asked.length, 1);
    assert.deepEqual(planted, [10], 'planted once');
  });

  test('other usage types, scope, id or span: other counters, each loaded', async () => {
    const { source, asked, answerAll } = heldSource();
    const seeder = new CounterSeeder(async () => undefined, source, NO_CREDITS);
    const day: Span = { start: MARCH.start, end: MARCH.start + 86_400_000 };
    const loads = [
      ref(), ref({ usageTypes: ['image'] }), ref({ usageTypes: null }), ref({ scopeId: 'k2' }), ref({ scope: 'app', scopeId: 'k1' }),
    ].map((r) => seeder.seed('c', r, MARCH, () => undefined));
    loads.push(seeder.seed('c', ref(), day, () => undefined));
    await answerAll();
    await Promise.all(loads);
    assert.equal(asked.length, 6);
  });

  test('a load begins once the writes accepted before it are settled, and a later one loads again', async () => {
    const { source, asked, answerAll } = heldSource();
    let settle!: () => void;
    const seeder = new CounterSeeder(() => new Promise<void>((resolve) => (settle = resolve)), source, NO_CREDITS);
    const load = seeder.seed('c', ref(), MARCH, () => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(asked.length, 0);
    settle();
    await answerAll();
    await load;
    assert.equal(asked.length, 1);
    const again = seeder.seed('c', ref(), MARCH, () => undefined);
    settle();
    await answerAll();
    await again;
    assert.equal(asked.length, 2);
  });

  test('two limits counting the same usage are each loaded and planted', async () => {
    const { source, asked, answerAll } = heldSource();
    const seeder = new CounterSeeder(async () => undefined, source, NO_CREDITS);
    const planted: string[] = [];
    const loads = [seeder.seed('a', ref(), MARCH, () => planted.push('a')), seeder.seed('b', ref(), MARCH, () => planted.push('b'))];
    await answerAll();
    await Promise.all(loads);
    assert.deepEqual(planted.sort(), ['a', 'b']);
    assert.equal(asked.length, 2);
  });

  test('a period seed plants the units and the snapshot they were read in', async () => {
    const { source, asked, answerAll } = heldSource();
    const seeder = new CounterSeeder(async () => undefined, source, NO_CREDITS);
    const planted: unknown[] = [];
    const load = seeder.seed('c', ref(), MARCH, (s) => planted.push(s));
    await answerAll();
    await load;
    assert.deepEqual(asked.map((a) => a.spans), [[MARCH]]);
    assert.deepEqual(planted, [{ units: 10, snapshot: 's1' }]);
  });

  describe('hour and day windows', () => {
    const HOUR = 3_600_000;
    const DAY = 24 * HOUR;
    const now = Date.parse('2026-03-15T12:34:56Z');
    const today = Date.parse('2026-03-15T00:00:00Z');

    test('a day window reads the fixed day holding now and the day before, in one load, and plants both counts', async () => {
      const { source, asked, answerAll } = heldSource();
      const seeder = new CounterSeeder(async () => undefined, source, NO_CREDITS);
      const planted: WindowSeed[] = [];
      const load = seeder.seedWindow('w', ref(), 'day', now, (s) => planted.push(s));
      await answerAll();
      await load;
      assert.deepEqual(asked, [{ ref: ref(), spans: [{ start: today - DAY, end: today }, { start: today, end: today + DAY }] }]);
      assert.deepEqual(planted, [{ counter: { windowStart: today, previous: 10, current: 11 }, snapshot: 's1' }]);
    });

    test('an hour window: the UTC hour holding now and the hour before', async () => {
      const { source, asked, answerAll } = heldSource();
      const seeder = new CounterSeeder(async () => undefined, source, NO_CREDITS);
      const load = seeder.seedWindow('w', ref(), 'hour', now, () => undefined);
      await answerAll();
      await load;
      const hour = Date.parse('2026-03-15T12:00:00Z');
      assert.deepEqual(asked[0]!.spans, [{ start: hour - HOUR, end: hour }, { start: hour, end: hour + HOUR }]);
    });

    test('concurrent first calls in one fixed window share one load; another window, counter or length loads again', async () => {
      const { source, asked, answerAll } = heldSource();
      const seeder = new CounterSeeder(async () => undefined, source, NO_CREDITS);
      const planted: number[] = [];
      const loads = [
        seeder.seedWindow('w', ref(), 'day', now, (s) => planted.push(s.counter.current)),
        seeder.seedWindow('w', ref({ usageTypes: ['pdf', 'image'] }), 'day', now + HOUR, (s) => planted.push(s.counter.current)),
      ];
      await answerAll();
      await Promise.all(loads);
      assert.equal(asked.length, 1);
      assert.deepEqual(planted, [11], 'planted once');
      const others = [
        seeder.seedWindow('w', ref(), 'day', now + DAY, () => undefined),
        seeder.seedWindow('v', ref(), 'day', now, () => undefined),
        seeder.seedWindow('w', ref(), 'hour', now, () => undefined),
        seeder.seedWindow('w', ref({ scopeId: 'k2' }), 'day', now, () => undefined),
      ];
      await answerAll();
      await Promise.all(others);
      assert.equal(asked.length, 5);
    });

    test('a window load begins only once the writes accepted before it are settled', async () => {
      const { source, asked, answerAll } = heldSource();
      let settle!: () => void;
      const seeder = new CounterSeeder(() => new Promise<void>((resolve) => (settle = resolve)), source, NO_CREDITS);
      let planted = false;
      const load = seeder.seedWindow('w', ref(), 'hour', now, () => (planted = true));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(asked.length, 0, 'nothing read before the writes are durable');
      settle();
      await answerAll();
      await load;
      assert.equal(asked.length, 1);
      assert.equal(planted, true);
    });
  });

  test('rollupSeeds: the units the rollups hold for the counter', async () => {
    const rollups: RollupStore = {
      sumRollups: async (query) => query.segments.map(() => (query.dimension === 'key:k1'
        ? [{ value: 'image', count: 4, appId: 'a', usageType: 'image', requestArgsHash: null }, { value: 'audio', count: 5, appId: 'a', usageType: 'audio', requestArgsHash: null }]
        : [])),
    };
    assert.deepEqual(await rollupSeeds(rollups)(ref(), [MARCH]), { units: [4] });
    assert.deepEqual(await rollupSeeds(rollups)(ref({ usageTypes: null }), [MARCH, MARCH]), { units: [9, 9] });
  });
});
