import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WINDOW_MS, type LimitWindow, type SlidingWindow } from '../../src/domain/limits.js';
import type { AppliedLimit, MeterRequest, MeterResult } from '../../src/domain/metering.js';
import { billingPeriod } from '../../src/domain/periods.js';
import { LocalLimiter } from '../../src/limits/local-limiter.js';

// Named limits over DST changes and odd offsets, on a fake clock (each call
// names its instant). Sliding windows are spans of real time: a local clock
// that jumps or repeats an hour neither opens a fresh window nor stretches
// one. Billing periods are the plan's calendar month: they begin at local
// midnight on the 1st, whatever the offset is that day.

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

function limit(name: string, window: LimitWindow, units: number): AppliedLimit {
  return { name, usageTypes: null, window, units, scope: 'group', scopeId: 'g' };
}

/** A limiter whose billing-period counters start empty, as on a store with no usage yet. */
function limiter() {
  const counters = new LocalLimiter();
  return (limits: AppliedLimit[], now: number, zone: string, cost = 1): MeterResult => {
    const period = billingPeriod(now, zone);
    for (const l of counters.missingUsage(limits, period)) counters.setUsage(l, period, 0);
    const request: MeterRequest = {
      now, groupId: 'g', appId: 'a', keyId: 'k', limits, period, mode: 'record', usageType: 'image', requestArgsHash: '', cost,
    };
    return counters.admit(request);
  };
}

/** How many of `n` calls of 1 unit at `now` are admitted. */
function burst(call: ReturnType<typeof limiter>, limits: AppliedLimit[], now: number, zone: string, n: number): number {
  let admitted = 0;
  for (let i = 0; i < n; i += 1) if (call(limits, now, zone).allowed) admitted += 1;
  return admitted;
}

/** Instants where a zone's offset changes, or (fixed offsets) where its local hour begins off the UTC hour. */
const EDGES: Array<{ what: string; zone: string; edge: number }> = [
  { what: 'New York spring-forward (02:00 EST → 03:00 EDT)', zone: 'America/New_York', edge: at('2026-03-08T07:00:00Z') },
  { what: 'New York fall-back (02:00 EDT → 01:00 EST)', zone: 'America/New_York', edge: at('2026-11-01T06:00:00Z') },
  { what: 'London spring-forward (01:00 GMT → 02:00 BST)', zone: 'Europe/London', edge: at('2026-03-29T01:00:00Z') },
  { what: 'London fall-back (02:00 BST → 01:00 GMT)', zone: 'Europe/London', edge: at('2026-10-25T01:00:00Z') },
  { what: 'Kolkata local midnight (+05:30)', zone: 'Asia/Kolkata', edge: at('2026-06-14T18:30:00Z') },
  { what: 'Kathmandu local midnight (+05:45)', zone: 'Asia/Kathmandu', edge: at('2026-06-14T18:15:00Z') },
];

const SLIDING: SlidingWindow[] = ['second', 'minute', 'hour', 'day'];

describe('sliding windows across DST changes and odd offsets', () => {
  for (const { what, zone, edge } of EDGES) {
    for (const window of SLIDING) {
      test(`${window}: no double burst around the ${what}`, () => {
        const ms = WINDOW_MS[window];
        // The first fixed window edge at or after the instant (windows are real spans, aligned on the epoch).
        const windowEdge = Math.ceil(edge / ms) * ms;
        const call = limiter();
        const limits = [limit(window, window, 10)];
        assert.equal(burst(call, limits, edge - 1, zone, 15), 10, 'the limit, just before the offset changes');
        assert.equal(burst(call, limits, edge, zone, 15), 0, 'nothing more once it has');
        assert.equal(burst(call, limits, windowEdge, zone, 15), 0, 'nor at the fixed window edge');
        // Capacity comes back by real time: half the previous window has slid out half a window after the edge.
        assert.equal(burst(call, limits, windowEdge + ms / 2, zone, 15), 5);
        // Once the window holds nothing from before the edge, the whole limit again.
        assert.equal(burst(call, limits, windowEdge + 2 * ms, zone, 15), 10);
      });
    }
  }

  test('the hour repeated at New York fall-back is a new hour of real time, not the same one', () => {
    const call = limiter();
    const hour = [limit('hourly', 'hour', 10)];
    const firstOneThirty = at('2026-11-01T05:30:00Z'); // 01:30 EDT
    const secondOneThirty = at('2026-11-01T06:30:00Z'); // 01:30 EST, an hour later
    assert.equal(burst(call, hour, firstOneThirty, 'America/New_York', 15), 10);
    // The local clock reads 01:30 again, but an hour has passed: half the last window has slid out, no more.
    assert.equal(burst(call, hour, secondOneThirty, 'America/New_York', 15), 5);
  });

  test('the day window over the 23-hour New York spring-forward day is 24 real hours', () => {
    const call = limiter();
    const day = [limit('daily', 'day', 4)];
    const spent = at('2026-03-08T04:59:59.999Z'); // 23:59:59.999 EST on March 7, in the fixed (UTC) day of March 8
    const first = call(day, spent, 'America/New_York', 4);
    assert.equal(first.allowed, true);
    // Reset is when the window holds nothing: the end of the fixed day after, in real milliseconds.
    assert.equal(first.limits[0]!.resetMs, at('2026-03-10T00:00:00Z') - spent);
    // Local midnight comes and goes (and the clock jumps at 02:00): the calls still weigh.
    assert.equal(burst(call, day, at('2026-03-08T05:00:00Z'), 'America/New_York', 4), 0, 'local midnight opens no fresh day');
    assert.equal(burst(call, day, at('2026-03-08T07:00:00Z'), 'America/New_York', 4), 0, 'nor does the jump to EDT');
    assert.equal(burst(call, day, at('2026-03-08T23:59:59Z'), 'America/New_York', 4), 0, 'nor the end of the 23-hour local day');
    // 18 real hours into the next fixed day, three quarters of the 4 units have slid out: 3 more.
    assert.equal(burst(call, day, at('2026-03-09T18:00:00Z'), 'America/New_York', 4), 3);
  });

  test('a refused call is told to retry after real milliseconds, the same in every zone', () => {
    const retries = EDGES.map(({ zone, edge }) => {
      const call = limiter();
      const minute = [limit('m', 'minute', 6)];
      const start = Math.floor(edge / 60_000) * 60_000;
      call(minute, start + 30_000, zone, 6);
      return call(minute, start + 40_000, zone).retryAfterMs;
    });
    // 6 spent at :30, one back once 1/6 of the window has slid out: 10 s into the next minute, 30 s after :40.
    assert.deepEqual(new Set(retries), new Set([30_000]));
  });
});

/** Month edges: local midnight on the 1st, as an instant. */
const MONTH_EDGES: Array<{ zone: string; edge: string; before: string }> = [
  { zone: 'America/New_York', edge: '2026-04-01T04:00:00.000Z', before: 'March, which holds the spring-forward change' },
  { zone: 'America/New_York', edge: '2026-12-01T05:00:00.000Z', before: 'November, which holds the fall-back change' },
  { zone: 'America/New_York', edge: '2026-03-01T05:00:00.000Z', before: 'February, before the change' },
  { zone: 'Europe/London', edge: '2026-03-31T23:00:00.000Z', before: 'March, which holds the spring-forward change' },
  { zone: 'Europe/London', edge: '2026-11-01T00:00:00.000Z', before: 'October, which holds the fall-back change' },
  { zone: 'Asia/Kolkata', edge: '2026-03-31T18:30:00.000Z', before: 'March' },
  { zone: 'Asia/Kathmandu', edge: '2026-03-31T18:15:00.000Z', before: 'March' },
  { zone: 'Asia/Kathmandu', edge: '2025-12-31T18:15:00.000Z', before: 'December (the year ends too)' },
];

describe('billing-period limits at the local month edge', () => {
  for (const { zone, edge: edgeIso, before } of MONTH_EDGES) {
    test(`${zone}: ${before} ends at local midnight on the 1st, ${edgeIso}`, () => {
      const edge = at(edgeIso);
      const call = limiter();
      const month = [limit('images-month', 'billing_period', 3)];
      const last = call(month, edge - 1, zone, 3);
      assert.equal(last.allowed, true);
      assert.equal(last.limits[0]!.used, 3);
      assert.equal(last.limits[0]!.resetMs, 1, 'it resets in a millisecond');
      const refused = call(month, edge - 1, zone);
      assert.equal(refused.code, 'quota_exceeded');
      assert.equal(refused.deniedBy, 'images-month');
      assert.equal(refused.retryAfterMs, 1, 'retry at the edge');
      const first = call(month, edge, zone, 3);
      assert.equal(first.allowed, true, 'the full limit again at local midnight');
      assert.equal(first.limits[0]!.used, 3, 'counted in the new month only');
      const period = billingPeriod(edge, zone);
      assert.equal(iso(period.start), edgeIso);
      assert.equal(first.limits[0]!.resetMs, period.end - edge, 'resets at the next local midnight on the 1st');
      assert.equal(call(month, edge + 1, zone).code, 'quota_exceeded', 'and the new month is not reset twice');
    });
  }

  test("a month's reset is its length in real time: March in New York is an hour short, November an hour long", () => {
    const call = limiter();
    const month = [limit('m', 'billing_period', 100)];
    assert.equal(call(month, at('2026-03-01T05:00:00Z'), 'America/New_York').limits[0]!.resetMs, 31 * 86_400_000 - 3_600_000);
    assert.equal(call(month, at('2026-11-01T04:00:00Z'), 'America/New_York').limits[0]!.resetMs, 30 * 86_400_000 + 3_600_000);
    assert.equal(call(month, at('2026-03-29T00:00:00Z'), 'Europe/London').limits[0]!.resetMs, at('2026-03-31T23:00:00Z') - at('2026-03-29T00:00:00Z'));
  });

  test('the month and a day window are independent at the month edge: the month resets, the day window still weighs', () => {
    const call = limiter();
    const zone = 'Asia/Kathmandu';
    const edge = at('2026-03-31T18:15:00Z');
    const limits = [limit('month', 'billing_period', 10), limit('daily', 'day', 6)];
    assert.equal(burst(call, limits, edge - 60_000, zone, 10), 6, 'the day window refuses first');
    const next = call(limits, edge, zone);
    assert.equal(next.allowed, false, 'a new month opens no fresh day');
    assert.equal(next.deniedBy, 'daily');
    assert.equal(next.code, 'rate_limited');
    assert.equal(next.limits[0]!.used, 0, "the refused call took nothing from the new month's count");
  });

  test('usage counted in the last month is not carried into the new one when the counter is reloaded', () => {
    const counters = new LocalLimiter();
    const zone = 'Asia/Kolkata';
    const edge = at('2026-03-31T18:30:00Z');
    const month = limit('m', 'billing_period', 5);
    const march = billingPeriod(edge - 1, zone);
    const april = billingPeriod(edge, zone);
    counters.setUsage(month, march, 5);
    assert.deepEqual(counters.missingUsage([month], april), [month], 'a new period needs its own counter');
    counters.setUsage(month, april, 0);
    assert.equal(counters.used(month, april), 0);
  });
});
