import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  creditTriggers, creditsLowLine, lastGrant, limitSubject, monthlyQuotaTriggers, namedLimitTriggers, thresholdsReached,
} from '../../src/domain/alert-triggers.js';
import { ALERT_KINDS } from '../../src/domain/alerts.js';
import type { LimitState } from '../../src/domain/metering.js';

const period = { start: Date.parse('2026-03-01T00:00:00Z'), end: Date.parse('2026-04-01T00:00:00Z') };
const owner = { appId: 'app-1', keyId: 'key-1' };
const state = (over: Partial<LimitState>): LimitState => ({
  name: 'images-month', window: 'billing_period', scope: 'group', units: 100, used: 0, remaining: 100, resetMs: 0, nextUnitMs: null, ...over,
});
const all = { kinds: [...ALERT_KINDS], creditsLow: null };

test('a threshold is reached at exactly its share, not a unit before; none for a limit of no units or unlimited', () => {
  assert.deepEqual(thresholdsReached(79, 100, [80, 100]), []);
  assert.deepEqual(thresholdsReached(80, 100, [80, 100]), [80]);
  assert.deepEqual(thresholdsReached(150, 100, [80, 100, 150]), [80, 100, 150]);
  assert.deepEqual(thresholdsReached(5, 0, [80]), []);
  assert.deepEqual(thresholdsReached(5, -1, [80]), []);
});

test('a named billing-period limit fires per threshold under a subject of its own; windows and the shorthand totals do not', () => {
  const states = [
    state({ used: 80 }),
    state({ name: 'pages-app', scope: 'app', units: 10, used: 10 }),
    state({ name: 'burst', window: 'second', units: 1, used: 1 }),
    state({ name: 'month', used: 100 }),
    state({ name: 'app-month', scope: 'app', used: 100 }),
  ];
  const triggers = namedLimitTriggers(states, owner, [80, 100], period);
  assert.deepEqual(triggers.map((t) => [t.kind, t.subject, t.threshold, t.periodStart]), [
    ['quota_threshold', 'limit:images-month', 80, period.start],
    ['quota_threshold', 'limit:pages-app:app:app-1', 80, period.start],
    ['quota_threshold', 'limit:pages-app:app:app-1', 100, period.start],
  ]);
  assert.deepEqual(triggers[0]!.data, {
    limit: 'images-month', scope: 'group', app_id: null, key_id: null, threshold_percent: 80, used: 80, units: 100,
    period: { from_date: '2026-03-01T00:00:00.000Z', to_date: '2026-04-01T00:00:00.000Z' },
  });
  assert.deepEqual(namedLimitTriggers([state({ scope: 'key', used: 100 })], { appId: 'a', keyId: null }, [80], period), [], 'ingested usage names no key');
  assert.notEqual(limitSubject('x', 'group', ''), '', 'never the subject of the group\'s monthly quota');
});

test('the monthly quotas keep their subjects and body', () => {
  const [group] = monthlyQuotaTriggers('group', owner, 80, 100, [80], period);
  assert.deepEqual([group!.subject, group!.data.scope, group!.data.monthly_used, group!.data.monthly_quota], ['', 'group', 80, 100]);
  const [app] = monthlyQuotaTriggers('app', owner, 8, 10, [80], period);
  assert.deepEqual([app!.subject, app!.data.app_id], ['app-1', 'app-1']);
  assert.deepEqual(monthlyQuotaTriggers('group', owner, null, 100, [80], period), []);
});

test('credits_exhausted at a balance of 0 or less, or a refusal for credits; not at 1', () => {
  const kinds = (balance: number, refused = false) => creditTriggers({ balance, refused }, all, null, period).map((t) => t.kind);
  assert.deepEqual(kinds(1), []);
  assert.deepEqual(kinds(0), ['credits_exhausted']);
  assert.deepEqual(kinds(-3), ['credits_exhausted']);
  assert.deepEqual(kinds(2, true), ['credits_exhausted']);
  assert.equal(creditTriggers({ balance: 0, refused: true }, all, null, period)[0]!.data.reason, 'insufficient_credits');
  assert.deepEqual(creditTriggers({ balance: 0, refused: false }, { ...all, kinds: ['quota_threshold'] }, null, period), [], 'a kind turned off never fires');
});

test('credits_low strictly under an amount, or under a share of the last grant; never without a line', () => {
  const below = { kinds: [...ALERT_KINDS], creditsLow: { below: 5 } };
  const low = (balance: number, settings: typeof all | typeof below | { kinds: typeof all.kinds; creditsLow: { belowShare: number } }, last: number | null = null) =>
    creditTriggers({ balance, refused: false }, settings, last, period).filter((t) => t.kind === 'credits_low');
  assert.equal(low(5, below).length, 0);
  assert.equal(low(4, below).length, 1);
  assert.deepEqual(low(4, below)[0]!.data.below, 5);
  const share = { kinds: [...ALERT_KINDS], creditsLow: { belowShare: 0.25 } };
  assert.equal(low(25, share, 100).length, 0);
  assert.equal(low(24, share, 100).length, 1);
  assert.equal(low(24, share, null).length, 0, 'no grant, no share');
  assert.equal(low(-1, all).length, 0, 'no setting, no credits_low');
  assert.equal(creditsLowLine({ belowShare: 0.5 }, 30), 15);
  assert.equal(low(0, below).length + creditTriggers({ balance: 0, refused: false }, below, null, period).length, 3, 'both fire when the balance falls through both');
  for (const t of creditTriggers({ balance: -1, refused: false }, below, null, period)) {
    assert.deepEqual([t.subject, t.threshold, t.periodStart], ['', 0, period.start], 'once per group and billing period');
  }
});

test('the last grant is the newest one not voided', () => {
  const g = (id: string, createdAt: number, voidedAt: number | null = null) => ({ id, createdAt, voidedAt, amount: createdAt });
  assert.equal(lastGrant([g('a', 1), g('b', 3, 4), g('c', 2)])?.id, 'c');
  assert.equal(lastGrant([g('a', 1, 2)]), null);
});
