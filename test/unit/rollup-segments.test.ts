import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { billingPeriod } from '../../src/domain/periods.js';
import { decompose } from '../../src/domain/rollup-segments.js';
import { LEVEL_MS } from '../../src/domain/rollups.js';

const at = (iso: string) => Date.parse(iso);

describe('decompose', () => {
  test('a UTC month is whole days only', () => {
    const p = billingPeriod(at('2026-02-10T00:00:00Z'), 'UTC');
    assert.deepEqual(decompose(p), [{ level: 'day', start: p.start, end: p.end }]);
  });

  test('a Kathmandu month: quarters, hours, days, hours, quarters', () => {
    const p = billingPeriod(at('2026-02-10T00:00:00Z'), 'Asia/Kathmandu'); // 01-31T18:15Z .. 02-28T18:15Z
    assert.deepEqual(decompose(p).map((s) => s.level), ['quarter', 'hour', 'day', 'hour', 'quarter']);
    const [q1, h1, d, h2, q2] = decompose(p);
    assert.equal(q1!.end - q1!.start, 3 * LEVEL_MS.quarter);
    assert.equal(h1!.end - h1!.start, 5 * LEVEL_MS.hour);
    assert.equal(d!.end - d!.start, 27 * LEVEL_MS.day);
    assert.equal(h2!.end - h2!.start, 18 * LEVEL_MS.hour);
    assert.equal(q2!.end - q2!.start, LEVEL_MS.quarter);
  });

  test('property: segments tile the span exactly, each aligned to its bucket size', () => {
    const quarter = LEVEL_MS.quarter;
    fc.assert(fc.property(fc.integer({ min: 0, max: 400_000 }), fc.integer({ min: 1, max: 20_000 }), (startQ, lengthQ) => {
      const span = { start: at('2024-01-01T00:00:00Z') + startQ * quarter, end: at('2024-01-01T00:00:00Z') + (startQ + lengthQ) * quarter };
      const segments = decompose(span);
      let t = span.start;
      for (const s of segments) {
        assert.equal(s.start, t);
        assert.equal(s.start % LEVEL_MS[s.level], 0);
        assert.equal((s.end - s.start) % LEVEL_MS[s.level], 0);
        t = s.end;
      }
      assert.equal(t, span.end);
      assert.ok(segments.length <= 5);
    }), { numRuns: 1000 });
  });
});
