import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { adminClient, customerOnPlan, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { until } from '../helpers/until.js';

// Alerts per named billing-period limit and for credits (credits_low, credits_exhausted), each once per
// billing period, through the public API. "Not before its threshold": the alert's own data says the
// decision that raised it (the first raised under its key is the one recorded). "Exactly once": after
// the repeats, a later alert (the next period's) is waited for, and the count taken then.

eachStore((store) => {
  const T0 = Date.parse('2026-03-15T12:00:00Z');
  const clock = new ManualClock(T0);
  let server: TestServer;
  let admin: AdminClient;
  let hooks: WebhookReceiver;
  let n = 0;

  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
    hooks = await startReceiver();
  });
  after(async () => {
    await server.close();
    await hooks.close();
  });

  async function customer(plan: Record<string, unknown>) {
    n += 1;
    const c = await customerOnPlan(admin, 'al', n, plan);
    assert.equal((await admin.post('/admin/webhooks', { url: hooks.url, group_ids: [c.group] })).status, 201);
    return c;
  }
  const check = (key: string, usageType: string, cost = 1) => admin.post('/v1/check', { key, usage_type: usageType, cost });
  const events = (group: string, type?: string) => hooks.received.map((h) => h.event).filter((e) => e.group_id === group && (type === undefined || e.type === type));

  test('a billing_period named limit crosses 80% and 100% once each per period, naming the limit; the monthly quota stays silent', async () => {
    clock.set(T0);
    const c = await customer({ limits: [{ name: 'images-month', usage_types: ['image'], window: 'billing_period', units: 10 }] });
    for (let i = 0; i < 7; i += 1) assert.equal((await check(c.key, 'image')).body.allowed, true);
    assert.equal((await check(c.key, 'pdf', 5)).body.allowed, true, 'another kind does not count toward it');
    assert.equal((await check(c.key, 'image')).body.allowed, true);
    await until('80%', () => events(c.group).length >= 1);
    const [eighty] = events(c.group);
    assert.deepEqual([eighty.type, eighty.data.limit, eighty.data.scope, eighty.data.threshold_percent, eighty.data.used, eighty.data.units],
      ['quota_threshold', 'images-month', 'group', 80, 8, 10], 'raised by the 8th image, not before');
    assert.deepEqual(eighty.data.period, { from_date: '2026-03-01T00:00:00.000Z', to_date: '2026-04-01T00:00:00.000Z' });
    for (let i = 0; i < 2; i += 1) assert.equal((await check(c.key, 'image')).body.allowed, true);
    for (let i = 0; i < 3; i += 1) assert.equal((await check(c.key, 'image')).body.code, 'quota_exceeded');
    await until('100%', () => events(c.group).length >= 2);

    clock.set(Date.parse('2026-04-02T00:00:00Z'));
    for (let i = 0; i < 8; i += 1) assert.equal((await check(c.key, 'image')).body.allowed, true);
    await until("April's 80%", () => events(c.group).some((e) => e.data.period.from_date === '2026-04-01T00:00:00.000Z'));
    assert.deepEqual(events(c.group).map((e) => [e.data.period.from_date.slice(0, 7), e.data.threshold_percent, e.data.used]), [
      ['2026-03', 80, 8], ['2026-03', 100, 10], ['2026-04', 80, 8],
    ], 'once per threshold and period: the refused checks past 100% raised nothing more');
    assert.ok(events(c.group).every((e) => e.data.limit === 'images-month' && e.data.monthly_quota === undefined));
  });

  test('credits_low (a share of the last grant) and credits_exhausted fire once per period, at their line and not before', async () => {
    clock.set(T0);
    const c = await customer({ credits: { per_unit: { image: 1 } } });
    const put = await admin.put(`/admin/groups/${c.group}/alert-settings`, {
      thresholds: [80, 100], kinds: ['credits_low', 'credits_exhausted'], credits_low: { below_share: 0.5 },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.credits_low, { below_share: 0.5 });
    assert.deepEqual((await admin.get(`/admin/groups/${c.group}/alert-settings`)).body.credits_low, { below_share: 0.5 });
    assert.equal((await admin.post(`/admin/groups/${c.group}/grants`, { amount: 10 })).status, 201);

    assert.deepEqual((await check(c.key, 'image', 5)).body.credits, { charged: 5, balance: 5 });
    assert.deepEqual((await check(c.key, 'image', 1)).body.credits, { charged: 1, balance: 4 });
    await until('credits_low', () => events(c.group).length >= 1);
    assert.deepEqual([events(c.group)[0].type, events(c.group)[0].data.balance, events(c.group)[0].data.below], ['credits_low', 4, 5],
      'raised under half of the grant, not at it');
    assert.deepEqual((await check(c.key, 'image', 4)).body.credits, { charged: 4, balance: 0 });
    await until('credits_exhausted', () => events(c.group, 'credits_exhausted').length >= 1);
    assert.deepEqual([events(c.group, 'credits_exhausted')[0].data.balance, events(c.group, 'credits_exhausted')[0].data.reason], [0, 'balance']);
    assert.equal((await check(c.key, 'image')).body.code, 'insufficient_credits');
    assert.equal((await admin.post('/v1/events', [{ id: `evt-${c.group}`, app_id: c.app, usage_type: 'image', count: 3 }])).body.accepted, 1);

    // April: a new grant of 10 repays the debt of 3; a check of 3 leaves 4, under half of it.
    clock.set(Date.parse('2026-04-02T00:00:00Z'));
    assert.equal((await admin.post(`/admin/groups/${c.group}/grants`, { amount: 10 })).status, 201);
    assert.deepEqual((await check(c.key, 'image', 3)).body.credits, { charged: 3, balance: 4 });
    await until("April's credits_low", () => events(c.group, 'credits_low').length >= 2);
    assert.deepEqual(events(c.group).map((e) => [e.type, e.data.period.from_date.slice(0, 7)]).sort(), [
      ['credits_exhausted', '2026-03'], ['credits_low', '2026-03'], ['credits_low', '2026-04'],
    ], 'the refusal and the overdrawing event in March raised nothing more');
  });

  test('an ingested event taking the balance below zero raises credits_exhausted and credits_low (an amount)', async () => {
    clock.set(T0);
    const c = await customer({ credits: { per_unit: { '*': 1 } } });
    assert.equal((await admin.put(`/admin/groups/${c.group}/alert-settings`, {
      thresholds: [80], kinds: ['credits_low', 'credits_exhausted'], credits_low: { below: 3 },
    })).status, 200);
    assert.equal((await admin.post(`/admin/groups/${c.group}/grants`, { amount: 5 })).status, 201);
    assert.equal((await admin.post('/v1/events', [{ id: `evt-${c.group}`, app_id: c.app, usage_type: 'pdf', count: 6 }])).body.accepted, 1);
    await until('both', () => events(c.group).length >= 2);
    assert.deepEqual(events(c.group).map((e) => [e.type, e.data.balance]).sort(), [['credits_exhausted', -1], ['credits_low', -1]]);
  });
});
