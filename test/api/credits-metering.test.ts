import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { ADMIN_TOKEN, adminClient, customerOnPlan, request, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

// Prepaid credits spent by checks and ingested events, through the public API.

eachStore((store) => {
  const T0 = Date.parse('2026-03-15T12:00:10Z');
  let server: TestServer;
  let admin: AdminClient;
  const clock = new ManualClock(T0);
  let n = 0;

  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
  });
  after(async () => server.close());

  /** A plan that prices images at 1 credit and PDFs at 5, a group on it with an app and a key. */
  async function customer(plan: Record<string, unknown> = {}) {
    n += 1;
    return customerOnPlan(admin, 'cr', n, { credits: { per_unit: { image: 1, pdf: 5 } }, ...plan });
  }

  const check = (key: string, usageType: string, cost = 1) => admin.post('/v1/check', { key, usage_type: usageType, cost });
  const grant = (group: string, body: Record<string, unknown>) => admin.post(`/admin/groups/${group}/grants`, body);
  const balance = async (group: string) => (await admin.get(`/admin/groups/${group}/grants`)).body as { balance: number; debt: number; items: Array<{ id: string; used: number }> };

  describe('checks', () => {
    test('a check takes its kind\'s price from the balance and says so; one the balance cannot cover is refused and takes nothing', async () => {
      const c = await customer();
      assert.equal((await grant(c.group, { amount: 12 })).status, 201);
      const image = await check(c.key, 'image', 2);
      assert.equal(image.body.allowed, true);
      assert.deepEqual(image.body.credits, { charged: 2, balance: 10 });
      const pdf = await check(c.key, 'pdf', 2);
      assert.deepEqual(pdf.body.credits, { charged: 10, balance: 0 });
      const refused = await check(c.key, 'image');
      assert.equal(refused.body.allowed, false);
      assert.equal(refused.body.code, 'insufficient_credits');
      assert.equal(refused.body.denied_by, 'credits');
      assert.deepEqual(refused.body.credits, { charged: 0, balance: 0 });
      assert.equal(refused.headers.get('retry-after'), null, 'waiting does not bring credits');
      assert.equal(refused.body.monthly_used, 4, 'the refused call was not counted');
      // What the store holds agrees: the use is durable with the calls.
      assert.deepEqual((await balance(c.group)).balance, 0);
      // A kind without a price costs nothing, even at a balance of 0.
      assert.deepEqual((await check(c.key, 'audio')).body.credits, { charged: 0, balance: 0 });
    });

    test('grants burn down by priority, then expiry; a new grant is spent at once, a voided one no longer', async () => {
      const c = await customer();
      const low = (await grant(c.group, { amount: 5, note: 'low' })).body;
      const high = (await grant(c.group, { amount: 3, priority: 10 })).body;
      assert.deepEqual((await check(c.key, 'image', 4)).body.credits, { charged: 4, balance: 4 });
      const after = await balance(c.group);
      assert.deepEqual(Object.fromEntries(after.items.map((g) => [g.id, g.used])), { [low.id]: 1, [high.id]: 3 });
      await admin.post(`/admin/groups/${c.group}/grants/${low.id}/void`);
      assert.equal((await check(c.key, 'image')).body.code, 'insufficient_credits', 'the voided grant is not spent');
      await grant(c.group, { amount: 1 });
      assert.equal((await check(c.key, 'image')).body.allowed, true, 'the new grant is spent at once');
    });

    test('a call refused by a limit takes no credits', async () => {
      const c = await customer({ rate_limit_per_minute: 1 });
      await grant(c.group, { amount: 10 });
      assert.equal((await check(c.key, 'image')).body.allowed, true);
      const refused = await check(c.key, 'image');
      assert.equal(refused.body.code, 'rate_limited');
      assert.deepEqual(refused.body.credits, { charged: 0, balance: 9 });
      assert.equal((await balance(c.group)).balance, 9);
    });
  });

  describe('ingested events', () => {
    test('are never refused, take the balance below zero, and the debt is repaid from the next grant first', async () => {
      const c = await customer();
      await grant(c.group, { amount: 3 });
      const sent = await request(`${server.url}/v1/events`, {
        method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        body: [{ id: `e-${n}-1`, app_id: c.app, usage_type: 'pdf', count: 1 }, { id: `e-${n}-1`, app_id: c.app, usage_type: 'pdf', count: 1 }],
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.equal(sent.body.duplicates, 1, 'a duplicate is charged nothing');
      assert.deepEqual(await balance(c.group).then((b) => [b.balance, b.debt]), [-2, 2]);
      assert.equal((await check(c.key, 'image')).body.code, 'insufficient_credits', 'checks see the debt');
      await grant(c.group, { amount: 10 });
      assert.deepEqual((await check(c.key, 'image')).body.credits, { charged: 1, balance: 7 });
      assert.deepEqual(await balance(c.group).then((b) => [b.balance, b.debt]), [7, 0]);
    });
  });

  describe('the recurring grant', () => {
    test('is issued when a period begins, and with rollover none the rest expires with the period', async () => {
      const c = await customer({ credits: { per_unit: { '*': 1 }, grant_every_period: { amount: 5, rollover: 'none' } } });
      assert.deepEqual((await check(c.key, 'image', 2)).body.credits, { charged: 2, balance: 3 });
      clock.set(Date.parse('2026-04-02T00:00:00Z'));
      try {
        assert.deepEqual((await check(c.key, 'image')).body.credits, { charged: 1, balance: 4 }, "April's 5, March's 3 expired");
      } finally {
        clock.set(T0);
      }
    });
  });
});
