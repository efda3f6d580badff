import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CounterRef } from '../../src/domain/limits.js';
import type { Span } from '../../src/domain/periods.js';
import type { RollupStore } from '../../src/domain/rollups.js';
import { CounterSeeder, rollupSeeds } from '../../src/engine/counter-seeder.js';
import type { CreditSource, Seed, SeedSource } from '../../src/engine/ports.js';

const MARCH: Span = { start: Date.parse('2026-03-01T00:00:00Z'), end: Date.parse('2026-04-01T00:00:00Z') };

/** A seed source that answers when told to, and records what it was asked. */
function heldSource() {
  const asked: Array<{ ref: CounterRef; span: Span }> = [];
  const pending: Array<() => void> = [];
  const source: SeedSource = (ref, span) => {
    asked.push({ ref, span });
    return new Promise<Seed>((resolve) => pending.push(() => resolve({ units: asked.length * 10 })));
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

  test('rollupSeeds: the units the rollups hold for the counter', async () => {
    const rollups: RollupStore = {
      sumRollups: async (query) => query.segments.map(() => (query.dimension === 'key:k1'
        ? [{ value: 'image', count: 4, appId: 'a', usageType: 'image', requestArgsHash: null }, { value: 'audio', count: 5, appId: 'a', usageType: 'audio', requestArgsHash: null }]
        : [])),
    };
    assert.deepEqual(await rollupSeeds(rollups)(ref(), MARCH), { units: 4 });
    assert.deepEqual(await rollupSeeds(rollups)(ref({ usageTypes: null }), MARCH), { units: 9 });
  });
});
