import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { billingPeriod, nextPeriodStart, periodsBetween, startOfPeriod } from '../../src/domain/periods.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('billing month edges', () => {
  test('UTC month', () => {
    const p = billingPeriod(at('2026-02-14T12:00:00Z'), 'UTC');
    assert.equal(iso(p.start), '2026-02-01T00:00:00.000Z');
    assert.equal(iso(p.end), '2026-03-01T00:00:00.000Z');
  });

  test('Asia/Kolkata (+05:30): the month starts at 18:30 UTC the day before', () => {
    const p = billingPeriod(at('2026-03-10T00:00:00Z'), 'Asia/Kolkata');
    assert.equal(iso(p.start), '2026-02-28T18:30:00.000Z');
    assert.equal(iso(p.end), '2026-03-31T18:30:00.000Z');
  });

  test('Asia/Kathmandu (+05:45): the month starts at 18:15 UTC', () => {
    const p = billingPeriod(at('2026-01-01T00:00:00Z'), 'Asia/Kathmandu');
    // 00:00 UTC on Jan 1 is 05:45 local on Jan 1: January in Kathmandu.
    assert.equal(iso(p.start), '2025-12-31T18:15:00.000Z');
    assert.equal(iso(p.end), '2026-01-31T18:15:00.000Z');
  });

  test('an instant just before the local month edge belongs to the previous month', () => {
    const p = billingPeriod(at('2025-12-31T18:14:59.999Z'), 'Asia/Kathmandu');
    assert.equal(iso(p.start), '2025-11-30T18:15:00.000Z');
    assert.equal(iso(p.end), '2025-12-31T18:15:00.000Z');
  });

  test('America/New_York: March holds the spring-forward change, November the fall-back', () => {
    const march = billingPeriod(at('2026-03-20T00:00:00Z'), 'America/New_York');
    assert.equal(iso(march.start), '2026-03-01T05:00:00.000Z'); // EST, -05:00
    assert.equal(iso(march.end), '2026-04-01T04:00:00.000Z'); // EDT, -04:00
    assert.equal(march.end - march.start, 31 * 86_400_000 - 3_600_000);
    const november = billingPeriod(at('2026-11-15T00:00:00Z'), 'America/New_York');
    assert.equal(iso(november.start), '2026-11-01T04:00:00.000Z');
    assert.equal(iso(november.end), '2026-12-01T05:00:00.000Z');
    assert.equal(november.end - november.start, 30 * 86_400_000 + 3_600_000);
  });
});

describe('days and hours across DST in America/New_York', () => {
  test('the spring-forward day lasts 23 hours, the fall-back day 25', () => {
    const spring = startOfPeriod(at('2026-03-08T12:00:00Z'), 'day', 'America/New_York');
    assert.equal(iso(spring), '2026-03-08T05:00:00.000Z');
    assert.equal(nextPeriodStart(spring, 'day', 'America/New_York') - spring, 23 * 3_600_000);
    const fall = startOfPeriod(at('2026-11-01T12:00:00Z'), 'day', 'America/New_York');
    assert.equal(iso(fall), '2026-11-01T04:00:00.000Z');
    assert.equal(nextPeriodStart(fall, 'day', 'America/New_York') - fall, 25 * 3_600_000);
  });

  test('the repeated 01:00 hour at fall-back is two distinct hours', () => {
    const first = startOfPeriod(at('2026-11-01T05:30:00Z'), 'hour', 'America/New_York'); // 01:30 EDT
    const second = startOfPeriod(at('2026-11-01T06:30:00Z'), 'hour', 'America/New_York'); // 01:30 EST
    assert.equal(iso(first), '2026-11-01T05:00:00.000Z');
    assert.equal(iso(second), '2026-11-01T06:00:00.000Z');
    assert.equal(nextPeriodStart(first, 'hour', 'America/New_York'), second);
  });

  test('hour periods over the fall-back night: 5 hours from 00:00 to 04:00 local', () => {
    const spans = periodsBetween(at('2026-11-01T04:00:00Z'), at('2026-11-01T09:00:00Z'), 'hour', 'America/New_York', 100)!;
    assert.equal(spans.length, 5);
    for (const s of spans) assert.equal(s.end - s.start, 3_600_000);
  });
});

describe('hours in half- and quarter-hour zones', () => {
  test('Kathmandu hours start at a quarter past the UTC hour', () => {
    assert.equal(iso(startOfPeriod(at('2026-05-05T10:20:00Z'), 'hour', 'Asia/Kathmandu')), '2026-05-05T10:15:00.000Z');
    assert.equal(iso(startOfPeriod(at('2026-05-05T10:10:00Z'), 'hour', 'Asia/Kathmandu')), '2026-05-05T09:15:00.000Z');
  });

  test('Kolkata hours start at half past', () => {
    assert.equal(iso(startOfPeriod(at('2026-05-05T10:20:00Z'), 'hour', 'Asia/Kolkata')), '2026-05-05T09:30:00.000Z');
  });
});

describe('weeks and years', () => {
  test('weeks start on Monday in the zone', () => {
    // 2026-11-22 is a Sunday.
    assert.equal(iso(startOfPeriod(at('2026-11-22T12:00:00Z'), 'week', 'UTC')), '2026-11-16T00:00:00.000Z');
    assert.equal(iso(startOfPeriod(at('2026-11-22T20:00:00Z'), 'week', 'Asia/Kolkata')), '2026-11-22T18:30:00.000Z');
  });

  test('a year in Kolkata', () => {
    assert.equal(iso(startOfPeriod(at('2026-06-01T00:00:00Z'), 'year', 'Asia/Kolkata')), '2025-12-31T18:30:00.000Z');
  });
});

describe('periodsBetween', () => {
  test('clips the first and last periods to the range', () => {
    const spans = periodsBetween(at('2026-01-15T00:00:00Z'), at('2026-03-10T00:00:00Z'), 'month', 'UTC', 100)!;
    assert.deepEqual(spans.map((s) => [iso(s.start), iso(s.end)]), [
      ['2026-01-15T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
      ['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
      ['2026-03-01T00:00:00.000Z', '2026-03-10T00:00:00.000Z'],
    ]);
  });

  test('refuses more periods than allowed', () => {
    assert.equal(periodsBetween(at('2020-01-01T00:00:00Z'), at('2026-01-01T00:00:00Z'), 'hour', 'UTC', 1000), null);
    assert.equal(periodsBetween(at('2026-01-01T00:00:00Z'), at('2026-01-01T10:00:00Z'), 'hour', 'UTC', 10)!.length, 10);
  });
});
