import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { ADMIN_TOKEN, adminClient, customerOnPlan, request, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

// A group's credits as the usage answers and the statements report them, through the public API.

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

  /** A group on a plan of its own (by default: images at 1 credit, PDFs at 5), with an app and a key. */
  async function customer(plan: Record<string, unknown> = { credits: { per_unit: { image: 1, pdf: 5 } } }) {
    n += 1;
    return customerOnPlan(admin, 'uc', n, plan);
  }

  const check = (key: string, usageType: string, cost = 1) => admin.post('/v1/check', { key, usage_type: usageType, cost });
  const grant = async (group: string, body: Record<string, unknown>) => {
    const res = await admin.post(`/admin/groups/${group}/grants`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string };
  };
  const usage = async (key: string) => {
    const res = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': key } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const groupUsage = async (group: string) => {
    const res = await admin.get(`/admin/groups/${group}/usage`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const authorized = { authorization: `Bearer ${ADMIN_TOKEN}` };

  /** The scenario of the tests below: checks, grants with and without expiry, a void, and ingested events that overdraw. */
  async function spendAndOverdraw() {
    const c = await customer();
    const a = await grant(c.group, { amount: 10, expires_at: '2026-04-10T00:00:00Z' });
    await grant(c.group, { amount: 4, expires_at: '2026-03-20T00:00:00Z' });
    await grant(c.group, { amount: 6 });
    // The grant that expires first is spent first: 2 then 2 of the 4, then 3 of the 10.
    assert.deepEqual((await check(c.key, 'image', 2)).body.credits, { charged: 2, balance: 18 });
    assert.deepEqual((await check(c.key, 'pdf')).body.credits, { charged: 5, balance: 13 });
    return { ...c, a: a.id };
  }

  describe('GET /v1/usage', () => {
    test('reports the balance, the credits granted and used this period, and the next expiry among grants with something left', async () => {
      const c = await spendAndOverdraw();
      const seen = await usage(c.key);
      // The 4 that expires on the 20th is spent: the next credits to expire are the 10's.
      assert.deepEqual(seen.credits, { balance: 13, granted_this_period: 20, used_this_period: 7, next_expiry: '2026-04-10T00:00:00.000Z' });
      assert.deepEqual([seen.monthly_used, seen.monthly_quota, seen.rate_limit_per_minute], [3, -1, -1], "the seed's fields are unchanged");

      // A voided grant is neither granted nor spendable; the usage stays used.
      assert.equal((await admin.post(`/admin/groups/${c.group}/grants/${c.a}/void`)).status, 200);
      assert.deepEqual((await usage(c.key)).credits, { balance: 6, granted_this_period: 10, used_this_period: 7, next_expiry: null });

      // Ingested events are never refused: 2 PDFs take 10 credits, 6 from the grant and 4 into debt.
      const sent = await admin.post('/v1/events', [{ id: `uc-e-${n}`, app_id: c.app, usage_type: 'pdf', count: 2 }]);
      assert.equal(sent.body.accepted, 1, JSON.stringify(sent.body));
      assert.deepEqual((await usage(c.key)).credits, { balance: -4, granted_this_period: 10, used_this_period: 17, next_expiry: null });

      // A check the debt refuses uses nothing.
      assert.equal((await check(c.key, 'image')).body.code, 'insufficient_credits');
      const last = await usage(c.key);
      assert.deepEqual(last.credits, { balance: -4, granted_this_period: 10, used_this_period: 17, next_expiry: null });
      assert.equal(last.monthly_used, 5);
    });

    test('a kind without a price uses no credits; a plan without credits has no credits field', async () => {
      const c = await customer();
      await grant(c.group, { amount: 3 });
      assert.equal((await check(c.key, 'audio', 4)).body.allowed, true);
      assert.deepEqual((await usage(c.key)).credits, { balance: 3, granted_this_period: 3, used_this_period: 0, next_expiry: null });

      const plain = await customer({});
      assert.equal((await check(plain.key, 'image')).body.allowed, true);
      const seen = await usage(plain.key);
      assert.equal('credits' in seen, false, JSON.stringify(seen));
      assert.equal(seen.monthly_used, 1);
      assert.equal('credits' in await groupUsage(plain.group), false);
    });

    test("the plan's recurring grant counts from the period's start; what a rollover carries is not granted again", async () => {
      const c = await customer({ credits: { per_unit: { '*': 1 }, grant_every_period: { amount: 5, rollover: 3 } } });
      // Before any call of the period: the period's grant is there, expiring with the period.
      assert.deepEqual((await usage(c.key)).credits, { balance: 5, granted_this_period: 5, used_this_period: 0, next_expiry: '2026-04-01T00:00:00.000Z' });
      assert.equal((await check(c.key, 'image')).body.allowed, true);
      assert.deepEqual((await usage(c.key)).credits, { balance: 4, granted_this_period: 5, used_this_period: 1, next_expiry: '2026-04-01T00:00:00.000Z' });
      clock.set(Date.parse('2026-04-02T00:00:00Z'));
      try {
        // April's 5, and 3 of March's 4 carried over (granted in March, so not granted again).
        const april = { balance: 8, granted_this_period: 5, used_this_period: 0, next_expiry: '2026-05-01T00:00:00.000Z' };
        assert.deepEqual((await usage(c.key)).credits, april);
        assert.deepEqual((await groupUsage(c.group)).credits, april);
      } finally {
        clock.set(T0);
      }
    });
  });

  describe('the admin usage query', () => {
    test("answers the group's records with the same credits block as GET /v1/usage; the CSV is the records only", async () => {
      const c = await spendAndOverdraw();
      const answer = await groupUsage(c.group);
      assert.deepEqual(answer.credits, (await usage(c.key)).credits);
      assert.deepEqual(answer.credits, { balance: 13, granted_this_period: 20, used_this_period: 7, next_expiry: '2026-04-10T00:00:00.000Z' });
      assert.deepEqual(answer.ocr_usage.map((r: { usage_type: string; count: number }) => [r.usage_type, r.count]), [['image', 2], ['pdf', 1]]);

      const csv = await fetch(`${server.url}/admin/groups/${c.group}/usage?format=csv`, { headers: authorized });
      assert.equal(csv.status, 200);
      const rows = (await csv.text()).trimEnd().split('\r\n');
      assert.equal(rows[0], 'from_date,app_id,group_id,usage_type,request_args_hash,count');
      assert.equal(rows.length, 3);
    });

    test('/v3/ocr-usage is unchanged: the records alone', async () => {
      const c = await spendAndOverdraw();
      const ocr = await request(`${server.url}/v3/ocr-usage`, { headers: { 'x-api-key': c.key } });
      assert.equal(ocr.status, 200);
      assert.deepEqual(Object.keys(ocr.body), ['ocr_usage']);
    });
  });

  describe('statements', () => {
    test('an open period lists the credits granted, used per kind, and the balance now; the CSV adds their rows', async () => {
      const c = await spendAndOverdraw();
      await admin.post(`/admin/groups/${c.group}/grants/${c.a}/void`);
      await admin.post('/v1/events', [{ id: `uc-s-${n}`, app_id: c.app, usage_type: 'pdf', count: 2 }]);
      const statement = await admin.get(`/admin/groups/${c.group}/statements/2026-03`);
      assert.equal(statement.status, 200, JSON.stringify(statement.body));
      assert.deepEqual(statement.body.credits, {
        granted: 10, used: 17,
        by_usage_type: [{ usage_type: 'image', units: 2, credits: 2 }, { usage_type: 'pdf', units: 3, credits: 15 }],
        balance: -4, balance_at: new Date(T0).toISOString(),
      });
      assert.deepEqual(statement.body.lines.map((l: { usage_type: string; units: number }) => [l.usage_type, l.units]), [['image', 2], ['pdf', 3]]);

      const csv = await (await fetch(`${server.url}/admin/groups/${c.group}/statements/2026-03?format=csv`, { headers: authorized })).text();
      const rows = csv.trimEnd().split('\r\n');
      assert.equal(rows[0], 'section,period,usage_type,app_id,tier,units,unit_price,amount,amount_decimal,currency,credits');
      assert.ok(rows.includes('total,2026-03,,,,,,0,0.00,USD,'), csv);
      assert.deepEqual(rows.slice(-4), [
        'credits_used,2026-03,image,,,2,,,,,2',
        'credits_used,2026-03,pdf,,,3,,,,,15',
        'credits_granted,2026-03,,,,,,,,,10',
        'credits_balance,2026-03,,,,,,,,,-4',
      ]);
    });

    test('a closed period keeps what was granted and used, with no balance; a plan without credits has no credits section', async () => {
      const c = await spendAndOverdraw();
      const plain = await customer({});
      assert.equal((await check(plain.key, 'image')).body.allowed, true);
      clock.set(Date.parse('2026-04-05T00:00:00Z'));
      try {
        const closed = await admin.get(`/admin/groups/${c.group}/statements/2026-03`);
        assert.equal(closed.body.status, 'closed');
        assert.deepEqual(closed.body.credits, {
          granted: 20, used: 7,
          by_usage_type: [{ usage_type: 'image', units: 2, credits: 2 }, { usage_type: 'pdf', units: 1, credits: 5 }],
          balance: null, balance_at: null,
        });
        const csv = await (await fetch(`${server.url}/admin/groups/${c.group}/statements/2026-03?format=csv`, { headers: authorized })).text();
        assert.equal(csv.trimEnd().split('\r\n').some((row) => row.startsWith('credits_balance')), false, csv);

        const noCredits = await admin.get(`/admin/groups/${plain.group}/statements/2026-03`);
        assert.equal(noCredits.status, 200);
        assert.equal('credits' in noCredits.body, false);
        const plainCsv = await (await fetch(`${server.url}/admin/groups/${plain.group}/statements/2026-03?format=csv`, { headers: authorized })).text();
        assert.equal(plainCsv.split('\r\n')[0], 'section,period,usage_type,app_id,tier,units,unit_price,amount,amount_decimal,currency');
      } finally {
        clock.set(T0);
      }
    });
  });
});
