import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  allocate, balanceOf, burnDownOrder, creditCost, liveGrants, periodGrantsToIssue, type CreditGrant, type CreditMovement,
} from '../../src/domain/credits.js';

const NOW = Date.parse('2026-03-15T12:00:00Z');
const GROUP = 'grp_1';

function grant(id: string, over: Partial<CreditGrant> = {}): CreditGrant {
  return {
    id, groupId: GROUP, amount: 10, used: 0, priority: 0, expiresAt: null, note: null, idempotencyKey: null, source: 'manual',
    createdAt: NOW - 1000, voidedAt: null, ...over,
  };
}

/**
 * The rules in their plainest form, written apart from `allocate`: one
 * credit at a time, each from the best grant that still holds one (found by
 * a linear scan, no sorting), so the two can be compared.
 */
function model(grants: readonly CreditGrant[], debt: number, charge: number, now: number, mayOverdraw: boolean) {
  const left = new Map(grants.map((g) => [g.id, g.voidedAt === null && (g.expiresAt === null || g.expiresAt > now) ? Math.max(0, g.amount - g.used) : 0]));
  const total = [...left.values()].reduce((a, b) => a + b, 0);
  if (charge <= 0) return { allowed: true, taken: new Map<string, number>(), debtAfter: debt, balanceAfter: total - debt };
  if (total < debt + charge && !mayOverdraw) return { allowed: false, taken: new Map<string, number>(), debtAfter: debt, balanceAfter: total - debt };
  const better = (a: CreditGrant, b: CreditGrant) => {
    if (a.priority !== b.priority) return a.priority > b.priority;
    const ea = a.expiresAt ?? Infinity;
    const eb = b.expiresAt ?? Infinity;
    if (ea !== eb) return ea < eb;
    if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
    return a.id < b.id;
  };
  const taken = new Map<string, number>();
  let owed = debt + charge;
  while (owed > 0) {
    let best: CreditGrant | undefined;
    for (const g of grants) if (left.get(g.id)! > 0 && (best === undefined || better(g, best))) best = g;
    if (best === undefined) break;
    left.set(best.id, left.get(best.id)! - 1);
    taken.set(best.id, (taken.get(best.id) ?? 0) + 1);
    owed -= 1;
  }
  return { allowed: true, taken, debtAfter: owed, balanceAfter: total - debt - charge };
}

const grantArb = fc.record({
  amount: fc.integer({ min: 1, max: 20 }),
  usedShare: fc.integer({ min: 0, max: 100 }),
  priority: fc.integer({ min: -1, max: 2 }),
  expiresIn: fc.option(fc.integer({ min: -3, max: 3 }), { nil: null }),
  age: fc.integer({ min: 0, max: 3 }),
  voided: fc.boolean(),
});
const grantsArb = fc.array(grantArb, { maxLength: 8 }).map((specs) => specs.map((s, i) => grant(`crg_${String.fromCharCode(97 + ((i * 5) % 8))}${i}`, {
  amount: s.amount, used: Math.floor((s.amount * s.usedShare) / 100), priority: s.priority,
  expiresAt: s.expiresIn === null ? null : NOW + s.expiresIn * 1000, createdAt: NOW - s.age * 1000, voidedAt: s.voided ? NOW - 1 : null,
})));

describe('allocate', () => {
  test('agrees with a one-credit-at-a-time model: movements, debt, balance, refusal', () => {
    fc.assert(fc.property(grantsArb, fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 40 }), fc.boolean(), (grants, debt, charge, mayOverdraw) => {
      const got = allocate(grants, debt, charge, NOW, { groupId: GROUP, mayOverdraw });
      const want = model(grants, debt, charge, NOW, mayOverdraw);
      assert.equal(got.allowed, want.allowed);
      assert.equal(got.balanceAfter, want.balanceAfter);
      const taken = new Map(got.movements.filter((m) => m.kind === 'grant').map((m) => [(m as { grantId: string }).grantId, m.amount]));
      assert.deepEqual(taken, want.taken);
      const debtChange = got.movements.filter((m) => m.kind === 'debt').reduce((s, m) => s + m.amount, 0);
      assert.equal(debt + debtChange, want.debtAfter);
    }));
  });

  test('conserves credits, spends grants in burn-down order, never overdraws a grant, and a refusal moves nothing', () => {
    fc.assert(fc.property(grantsArb, fc.integer({ min: 0, max: 15 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), (grants, debt, charge, mayOverdraw) => {
      const { allowed, movements, balanceAfter } = allocate(grants, debt, charge, NOW, { groupId: GROUP, mayOverdraw });
      const before = balanceOf(grants, debt, NOW);
      if (!allowed) {
        assert.deepEqual(movements, []);
        assert.equal(balanceAfter, before);
        assert.ok(before < charge && !mayOverdraw);
        return;
      }
      assert.equal(balanceAfter, before - charge, 'the balance falls by the charge, exactly');
      const byId = new Map(grants.map((g) => [g.id, g]));
      const fromGrants = movements.filter((m): m is Extract<CreditMovement, { kind: 'grant' }> => m.kind === 'grant');
      const debtMoves = movements.filter((m) => m.kind === 'debt');
      assert.ok(debtMoves.length <= 1);
      assert.equal(fromGrants.reduce((s, m) => s + m.amount, 0) + debtMoves.reduce((s, m) => s + m.amount, 0), charge, 'what the grants gave plus the debt taken on is the charge');
      assert.equal(new Set(fromGrants.map((m) => m.grantId)).size, fromGrants.length, 'one movement per grant');
      for (const m of fromGrants) {
        const g = byId.get(m.grantId)!;
        assert.ok(m.amount > 0 && m.amount <= g.amount - g.used, 'never more than a grant holds');
        assert.equal(liveGrants([g], NOW).length, 1, 'only live grants are spent');
      }
      // In order: each grant spent before another is at or ahead of it, and all but the last one spent are emptied.
      for (let i = 1; i < fromGrants.length; i += 1) assert.ok(burnDownOrder(byId.get(fromGrants[i - 1]!.grantId)!, byId.get(fromGrants[i]!.grantId)!) < 0);
      for (const m of fromGrants.slice(0, -1)) assert.equal(m.amount, byId.get(m.grantId)!.amount - byId.get(m.grantId)!.used);
      const after = grants.map((g) => ({ ...g, used: g.used + (fromGrants.find((m) => m.grantId === g.id)?.amount ?? 0) }));
      assert.ok(after.every((g) => g.used <= g.amount), 'no grant below zero');
      assert.equal(balanceOf(after, debt + debtMoves.reduce((s, m) => s + m.amount, 0), NOW), balanceAfter);
    }));
  });

  test('spends by priority, then the earliest expiry (none last), then the oldest', () => {
    const grants = [
      grant('crg_never', { amount: 5 }),
      grant('crg_soon', { amount: 5, expiresAt: NOW + 1000 }),
      grant('crg_later', { amount: 5, expiresAt: NOW + 5000 }),
      grant('crg_high', { amount: 5, priority: 1, expiresAt: null }),
      grant('crg_old_never', { amount: 5, createdAt: NOW - 9000 }),
      grant('crg_expired', { amount: 5, priority: 9, expiresAt: NOW }),
      grant('crg_voided', { amount: 5, priority: 9, voidedAt: NOW - 1 }),
    ];
    const { movements } = allocate(grants, 0, 22, NOW, { groupId: GROUP, mayOverdraw: false });
    assert.deepEqual(movements, [
      { kind: 'grant', grantId: 'crg_high', amount: 5 },
      { kind: 'grant', grantId: 'crg_soon', amount: 5 },
      { kind: 'grant', grantId: 'crg_later', amount: 5 },
      { kind: 'grant', grantId: 'crg_old_never', amount: 5 },
      { kind: 'grant', grantId: 'crg_never', amount: 2 },
    ]);
  });

  test('a check the balance cannot cover is refused; an event overdraws into debt, which the next charge repays first', () => {
    const grants = [grant('crg_a', { amount: 10, used: 7 })];
    assert.deepEqual(allocate(grants, 0, 4, NOW, { groupId: GROUP, mayOverdraw: false }), { allowed: false, movements: [], balanceAfter: 3 });
    const overdrawn = allocate(grants, 0, 4, NOW, { groupId: GROUP, mayOverdraw: true });
    assert.deepEqual(overdrawn, {
      allowed: true, balanceAfter: -1,
      movements: [{ kind: 'grant', grantId: 'crg_a', amount: 3 }, { kind: 'debt', groupId: GROUP, amount: 1 }],
    });
    // A new grant of 5: the debt of 1 is repaid with the next charge of 2.
    const next = [grant('crg_a', { amount: 10, used: 10 }), grant('crg_b', { amount: 5 })];
    assert.equal(balanceOf(next, 1, NOW), 4);
    assert.deepEqual(allocate(next, 1, 2, NOW, { groupId: GROUP, mayOverdraw: false }), {
      allowed: true, balanceAfter: 2,
      movements: [{ kind: 'grant', grantId: 'crg_b', amount: 3 }, { kind: 'debt', groupId: GROUP, amount: -1 }],
    });
    // In debt with nothing to repay it from, a check is refused, an event deepens the debt.
    assert.equal(allocate([], 2, 1, NOW, { groupId: GROUP, mayOverdraw: false }).allowed, false);
    assert.deepEqual(allocate([], 2, 1, NOW, { groupId: GROUP, mayOverdraw: true }).movements, [{ kind: 'debt', groupId: GROUP, amount: 1 }]);
    assert.deepEqual(allocate([], 2, 0, NOW, { groupId: GROUP, mayOverdraw: false }), { allowed: true, movements: [], balanceAfter: -2 }, 'a free call is never refused');
  });
});

test('liveGrants: a grant expires at its expiresAt; voided grants are gone', () => {
  const grants = [grant('a', { expiresAt: NOW }), grant('b', { expiresAt: NOW + 1 }), grant('c'), grant('d', { voidedAt: NOW })];
  assert.deepEqual(liveGrants(grants, NOW).map((g) => g.id), ['b', 'c']);
  assert.equal(balanceOf(grants, 3, NOW), 17);
});

test('creditCost: the type\'s price, else "*", else nothing', () => {
  const perUnit = { image: 1, pdf: 5, '*': 2 };
  assert.equal(creditCost(perUnit, 'pdf', 3), 15);
  assert.equal(creditCost(perUnit, 'audio', 3), 6);
  assert.equal(creditCost({ pdf: 5 }, 'audio', 3), 0);
  assert.equal(creditCost({ pdf: 0, '*': 2 }, 'pdf', 3), 0, 'a price of 0 is a price');
  assert.equal(creditCost({ '*': 1 }, 'toString', 2), 2, "names of Object's prototype are no prices");
});

test("periodGrantsToIssue: the period's grant, and what a capped rollover carries of the last one", () => {
  const april = { start: Date.parse('2026-04-01T00:00:00Z'), end: Date.parse('2026-05-01T00:00:00Z') };
  const march = (over: Partial<CreditGrant> = {}) => grant('crg_march', { amount: 100, used: 70, source: 'period', expiresAt: april.start, ...over });
  const amounts = (issue: ReturnType<typeof periodGrantsToIssue>) => issue.grants.map((g) => [g.amount, g.expiresAt, g.idempotencyKey]);

  assert.deepEqual(amounts(periodGrantsToIssue({ amount: 500, rollover: 'none' }, april, march())), [[500, april.end, `period:${april.start}`]]);
  assert.deepEqual(amounts(periodGrantsToIssue({ amount: 500, rollover: 'all' }, april, march())), [[500, null, `period:${april.start}`]]);
  const capped = periodGrantsToIssue({ amount: 500, rollover: 20 }, april, march());
  assert.deepEqual(amounts(capped), [[20, april.end, `rollover:${april.start}`], [500, april.end, `period:${april.start}`]], 'the carried grant first');
  assert.equal(capped.expirePrevious, false, 'it ended at this start already');
  assert.deepEqual(amounts(periodGrantsToIssue({ amount: 500, rollover: 50 }, april, march())).map(([a]) => a), [30, 500], 'all that was left, under the cap');
  const open = periodGrantsToIssue({ amount: 500, rollover: 50 }, april, march({ expiresAt: null }));
  assert.equal(open.expirePrevious, true, 'a grant that never expired is cut off at the new start');
  assert.deepEqual(amounts(open).map(([a]) => a), [30, 500]);
  assert.deepEqual(amounts(periodGrantsToIssue({ amount: 500, rollover: 50 }, april, march({ used: 100 }))).map(([a]) => a), [500], 'nothing left');
  assert.deepEqual(amounts(periodGrantsToIssue({ amount: 500, rollover: 50 }, april, march({ expiresAt: april.start - 1 }))).map(([a]) => a), [500],
    'a grant of an older period has nothing to carry');
  assert.deepEqual(amounts(periodGrantsToIssue({ amount: 500, rollover: 50 }, april, null)).map(([a]) => a), [500]);
});
