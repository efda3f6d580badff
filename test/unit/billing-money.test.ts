import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { formatMinor, formatPrice, minorDigits, parsePrice, toMinor } from '../../src/billing/money.js';
import { charge, pricesProblem, scheduleFor, type Schedule } from '../../src/billing/pricing.js';
import { usageLine } from '../../src/billing/statements.js';

const MATHPIX: Schedule = { kind: 'graduated', tiers: [{ upTo: 1_000_000, unitPrice: '0.002' }, { upTo: null, unitPrice: '0.0015' }] };
const cents = (nanos: bigint) => toMinor(nanos, 2);

describe('money', () => {
  test('prices parse to exact nanos and back', () => {
    assert.equal(parsePrice('0.0015'), 1_500_000n);
    assert.equal(parsePrice('12'), 12_000_000_000n);
    assert.equal(parsePrice('0.000000001'), 1n);
    assert.throws(() => parsePrice('0.0000000001'), RangeError);
    assert.throws(() => parsePrice('-1'), RangeError);
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 21n - 1n }), (nanos) => parsePrice(formatPrice(nanos)) === nanos));
  });

  test('rounding to the minor unit is half away from zero, once', () => {
    assert.equal(cents(5_000_000n), 1n, 'half a cent rounds up');
    assert.equal(cents(4_999_999n), 0n);
    assert.equal(cents(-5_000_000n), -1n);
    assert.equal(toMinor(1_500_000_000n, 0), 2n, 'JPY 1.5 → 2');
    assert.equal(toMinor(1_234_500_000n, 3), 1235n, 'BHD has three decimals');
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), (nanos) => {
      const rounded = cents(nanos) * 10_000_000n;
      return rounded - nanos <= 5_000_000n && nanos - rounded < 5_000_000n;
    }));
  });

  test('currencies: minor digits and formatting', () => {
    assert.deepEqual(['USD', 'EUR', 'JPY', 'BHD'].map(minorDigits), [2, 2, 0, 3]);
    assert.equal(formatMinor(230_001, 2), '2300.01');
    assert.equal(formatMinor(5, 2), '0.05');
    assert.equal(formatMinor(-3, 2), '-0.03');
    assert.equal(formatMinor(42, 0), '42');
  });
});

describe('tiers', () => {
  test('the Mathpix case around the 1M boundary', () => {
    const at = (units: number) => charge(MATHPIX, units);
    assert.equal(at(999_999).nanos, 1_999_998_000_000n, '999,999 × 0.002');
    assert.equal(cents(at(999_999).nanos), 200_000n, '1999.998 rounds up to 2000.00');
    assert.equal(at(1_000_000).nanos, 2_000_000_000_000n, 'exactly 1M: all at 0.002 = 2000.00');
    assert.equal(at(1_000_001).nanos, 2_000_001_500_000n, 'the next unit at 0.0015');
    assert.deepEqual(at(1_000_001).tiers.map((t) => [t.firstUnit, t.upTo, t.units]), [[1, 1_000_000, 1_000_000], [1_000_001, null, 1]]);
    assert.equal(cents(at(1_200_000).nanos), 230_000n);
    assert.equal(cents(at(0).nanos), 0n);
  });

  test('a flat price is units × price; an unpriced type costs nothing', () => {
    assert.equal(charge({ kind: 'flat', unitPrice: '0.01' }, 12_345).nanos, 123_450_000_000n);
    assert.deepEqual(charge({ kind: 'none' }, 99), { nanos: 0n, tiers: [] });
  });

  test('graduated: tiers cover every unit once, are monotone, and never reach back', () => {
    const tiersArb = fc.uniqueArray(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 0, maxLength: 5 })
      .chain((bounds) => fc.tuple(fc.constant([...bounds].sort((a, b) => a - b)), fc.array(fc.stringMatching(/^\d{1,3}(\.\d{1,9})?$/), { minLength: bounds.length + 1, maxLength: bounds.length + 1 })))
      .map(([bounds, prices]) => ({ kind: 'graduated' as const, tiers: [...bounds.map((upTo, i) => ({ upTo, unitPrice: prices[i]! })), { upTo: null, unitPrice: prices[bounds.length]! }] }));
    fc.assert(fc.property(tiersArb, fc.integer({ min: 0, max: 10_000_000 }), (schedule, units) => {
      const priced = charge(schedule, units);
      assert.equal(priced.tiers.reduce((s, t) => s + t.units, 0), units, 'every unit in exactly one tier');
      assert.equal(priced.tiers.reduce((s, t) => s + t.nanos, 0n), priced.nanos, 'the tiers add up to the total');
      // One more unit costs exactly the price of the tier it falls in.
      const next = charge(schedule, units + 1);
      const tier = schedule.tiers.find((t) => t.upTo === null || units + 1 <= t.upTo)!;
      assert.equal(next.nanos - priced.nanos, parsePrice(tier.unitPrice));
    }));
  });

  test('a statement line rounds once; a total is the sum of its lines', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000_000 }), fc.stringMatching(/^0\.\d{1,6}$/)), { minLength: 1, maxLength: 6 }), (items) => {
      const pricing = { currency: 'USD', pricePerCall: null, prices: items.map(([, price], i) => ({ usageType: `t${i}`, unitPrice: price, tiers: null })) };
      const lines = items.map(([units], i) => usageLine(pricing, `t${i}`, units, 2));
      for (const [i, line] of lines.entries()) {
        assert.equal(BigInt(line.amount), cents(BigInt(items[i]![0]) * parsePrice(items[i]![1])));
        assert.equal(line.amount_decimal, formatMinor(line.amount, 2));
      }
    }));
  });

  test('price_per_call prices the usage types not listed', () => {
    const pricing = { currency: 'USD', pricePerCall: '0.01', prices: [{ usageType: 'image', unitPrice: null, tiers: MATHPIX.tiers as never }] };
    assert.deepEqual(scheduleFor(pricing, 'pdf'), { kind: 'flat', unitPrice: '0.01' });
    assert.equal(scheduleFor(pricing, 'image').kind, 'graduated');
    assert.deepEqual(scheduleFor({ ...pricing, pricePerCall: null }, 'pdf'), { kind: 'none' });
  });

  test('sound prices pass; unsound ones are named', () => {
    assert.equal(pricesProblem([{ usageType: 'image', unitPrice: null, tiers: [...MATHPIX.tiers] }]), null);
    assert.match(pricesProblem([{ usageType: 'a', unitPrice: null, tiers: [{ upTo: 5, unitPrice: '1' }, { upTo: 5, unitPrice: '1' }, { upTo: null, unitPrice: '1' }] }])!, /must be greater than 5/);
  });
});
