import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { addAt, advance, evaluate, MINUTE_MS, weightedCount, type WindowCounter } from '../../src/domain/sliding-window.js';

const T0 = Date.parse('2026-01-01T12:00:00Z');

/** Spends `cost` at `now` when allowed, as the limiter does. */
function spend(counter: WindowCounter | undefined, now: number, limit: number, cost = 1) {
  const c = advance(counter, now, MINUTE_MS);
  const verdict = evaluate(c, now, MINUTE_MS, limit, cost);
  if (verdict.allowed) c.current += cost;
  return { counter: c, verdict };
}

describe('sliding-window counter', () => {
  test('admits exactly the limit in a burst', () => {
    let c: WindowCounter | undefined;
    let allowed = 0;
    for (let i = 0; i < 15; i += 1) {
      const r = spend(c, T0 + 1000, 10);
      c = r.counter;
      if (r.verdict.allowed) allowed += 1;
    }
    assert.equal(allowed, 10);
  });

  test('no double burst at the minute edge', () => {
    let c: WindowCounter | undefined;
    let allowed = 0;
    // The limit at 12:00:59.9, then as much as it takes at 12:01:00.0.
    for (let i = 0; i < 100; i += 1) {
      const r = spend(c, T0 + 59_900, 100);
      c = r.counter;
      if (r.verdict.allowed) allowed += 1;
    }
    for (let i = 0; i < 100; i += 1) {
      const r = spend(c, T0 + 60_000, 100);
      c = r.counter;
      if (r.verdict.allowed) allowed += 1;
    }
    assert.equal(allowed, 100);
  });

  test('capacity comes back as the previous window slides out', () => {
    let c: WindowCounter | undefined = spend(undefined, T0, 100, 100).counter;
    // Half way into the next window, half the previous window still weighs.
    const r = spend(c, T0 + 90_000, 100, 50);
    assert.equal(r.verdict.allowed, true);
    c = r.counter;
    assert.equal(spend(c, T0 + 90_000, 100, 1).verdict.allowed, false);
  });

  test('a cost above 1 consumes that many units, all or nothing', () => {
    const first = spend(undefined, T0, 10, 7);
    assert.equal(first.verdict.allowed, true);
    assert.equal(first.verdict.remaining, 3);
    const second = spend(first.counter, T0, 10, 4);
    assert.equal(second.verdict.allowed, false);
    assert.equal(second.counter.current, 7, 'a refused call consumes nothing');
    assert.equal(spend(second.counter, T0, 10, 3).verdict.allowed, true);
  });

  test('a cost above the limit can never pass and has no retry time', () => {
    const r = spend(undefined, T0, 10, 11);
    assert.equal(r.verdict.allowed, false);
    assert.equal(r.verdict.retryAfterMs, null);
  });

  test('retryAfter is the earliest moment the call fits', () => {
    const full = spend(undefined, T0 + 30_000, 60, 60).counter; // 60 spent at 12:00:30
    const refused = evaluate(advance(full, T0 + 40_000, MINUTE_MS), T0 + 40_000, MINUTE_MS, 60, 1);
    assert.equal(refused.allowed, false);
    // Fits once 1/60 of the previous window has slid out: at 12:01:01.
    assert.equal(refused.retryAfterMs, 21_000);
    const at = T0 + 40_000 + refused.retryAfterMs!;
    assert.equal(evaluate(advance(full, at, MINUTE_MS), at, MINUTE_MS, 60, 1).allowed, true);
    assert.equal(evaluate(advance(full, at - 1, MINUTE_MS), at - 1, MINUTE_MS, 60, 1).allowed, false);
  });

  test('a clock stepped back never makes a negative window', () => {
    const c = spend(undefined, T0 + 120_000, 10, 5).counter;
    const back = advance(c, T0, MINUTE_MS);
    assert.equal(back.windowStart, c.windowStart);
    assert.ok(weightedCount(back, T0, MINUTE_MS) >= 0);
    assert.equal(evaluate(back, T0, MINUTE_MS, 10, 5).allowed, true);
    assert.equal(evaluate(back, T0, MINUTE_MS, 10, 6).allowed, false);
  });

  test('property: in every fixed minute, and around every edge, admitted units never exceed the limit', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.record({ dt: fc.integer({ min: 0, max: 5_000 }), cost: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 300 }),
      (limit, calls) => {
        let c: WindowCounter | undefined;
        let now = T0;
        const admitted: Array<{ at: number; cost: number }> = [];
        for (const call of calls) {
          now += call.dt;
          const r = spend(c, now, limit, call.cost);
          c = r.counter;
          if (r.verdict.allowed) admitted.push({ at: now, cost: call.cost });
          assert.ok(r.verdict.remaining >= 0 && r.verdict.remaining <= limit);
        }
        // Within any fixed window, and within the minute centred on any window edge.
        const sums = new Map<number, number>();
        for (const a of admitted) {
          const w = a.at - (a.at % MINUTE_MS);
          sums.set(w, (sums.get(w) ?? 0) + a.cost);
        }
        for (const total of sums.values()) assert.ok(total <= limit, `fixed window total ${total} > ${limit}`);
        for (const edge of sums.keys()) {
          const around = admitted.filter((a) => a.at >= edge - 30_000 && a.at < edge + 30_000).reduce((s, a) => s + a.cost, 0);
          assert.ok(around <= limit * 1.5, `${around} admitted in the minute around an edge, limit ${limit}`);
        }
      },
    ), { numRuns: 300 });
  });

  describe('addAt: usage stamped at a moment (ingested events)', () => {
    const W = MINUTE_MS;
    const c: WindowCounter = { windowStart: T0, previous: 5, current: 7 };
    test('in the current window, the previous one, a later one, or too old', () => {
      assert.deepEqual(addAt(c, T0 + 30_000, 2, W), { windowStart: T0, previous: 5, current: 9 });
      assert.deepEqual(addAt(c, T0 - 1, 2, W), { windowStart: T0, previous: 7, current: 7 });
      assert.deepEqual(addAt(c, T0 + W + 5, 2, W), { windowStart: T0 + W, previous: 7, current: 2 });
      assert.deepEqual(addAt(c, T0 + 2 * W, 2, W), { windowStart: T0 + 2 * W, previous: 0, current: 2 });
      assert.deepEqual(addAt(c, T0 - W - 1, 2, W), c, 'older than both windows: nothing left to count it in');
      assert.deepEqual(c, { windowStart: T0, previous: 5, current: 7 }, 'the counter given is not changed');
    });
  });
});
