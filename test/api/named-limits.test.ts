import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseList } from 'structured-headers';
import { ManualClock } from '../../src/clock.js';
import { adminClient, customerOnPlan, request, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

// Named limits through the public API: a plan that sells several metered
// features, a customer's own deal, and the answers that report them.

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

  /** A plan with named limits, a group and an app on it, and a key. */
  async function customer(limits: unknown[], plan: Record<string, unknown> = {}) {
    n += 1;
    return customerOnPlan(admin, 'nl', n, { limits, ...plan });
  }

  const check = (key: string, usageType: string, cost = 1) => admin.post('/v1/check', { key, usage_type: usageType, cost });

  describe('limits per usage type', () => {
    test('each kind counts only toward the limits that name it, and every limit that applied is reported', async () => {
      const c = await customer([
        { name: 'images-month', usage_types: ['image', 'image-async'], window: 'billing_period', units: 5 },
        { name: 'pages-day', usage_types: ['pdf'], window: 'day', units: 3 },
      ]);
      const image = await check(c.key, 'image', 2);
      assert.equal(image.body.allowed, true);
      assert.deepEqual(image.body.limits.map((l: { name: string }) => l.name), ['images-month']);
      assert.deepEqual(image.body.limits[0], { name: 'images-month', window: 'billing_period', scope: 'group', units: 5, used: 2, remaining: 3, reset: (Date.parse('2026-04-01T00:00:00Z') - T0) / 1000 });
      assert.equal((await check(c.key, 'image-async', 3)).body.allowed, true);
      const refused = await check(c.key, 'image');
      assert.equal(refused.body.code, 'quota_exceeded');
      assert.equal(refused.body.denied_by, 'images-month');
      assert.match(refused.body.message, /images-month/);
      // PDFs have their own limit, untouched by images.
      for (let i = 0; i < 3; i += 1) assert.equal((await check(c.key, 'pdf')).body.allowed, true);
      const pdf = await check(c.key, 'pdf');
      assert.equal(pdf.body.code, 'rate_limited');
      assert.equal(pdf.body.denied_by, 'pages-day');
      assert.ok(pdf.body.retry_after > 0);
      // A kind no limit names is not limited.
      assert.equal((await check(c.key, 'llm', 1000)).body.allowed, true);
    });

    test('a call refused by one limit consumes none of the others', async () => {
      const c = await customer([
        { name: 'all-month', window: 'billing_period', units: 100 },
        { name: 'big-burst', window: 'second', units: 3 },
      ]);
      assert.equal((await check(c.key, 'image', 3)).body.allowed, true);
      const refused = await check(c.key, 'image', 2);
      assert.equal(refused.body.denied_by, 'big-burst');
      const month = refused.body.limits.find((l: { name: string }) => l.name === 'all-month');
      assert.equal(month.used, 3, 'the refused call took nothing from the month');
    });
  });

  describe('scopes', () => {
    test('a key-scoped limit counts each key on its own; a group-scoped one shares', async () => {
      const c = await customer([
        { name: 'per-key', window: 'minute', units: 2, scope: 'key' },
        { name: 'shared', window: 'minute', units: 3 },
      ]);
      const other = await c.newKey();
      assert.equal((await check(c.key, 'image')).body.allowed, true);
      assert.equal((await check(c.key, 'image')).body.allowed, true);
      const third = await check(c.key, 'image');
      assert.equal(third.body.denied_by, 'per-key');
      const first = await check(other, 'image');
      assert.equal(first.body.allowed, true, 'another key has its own per-key window');
      const again = await check(other, 'image');
      assert.equal(again.body.denied_by, 'shared', 'but the group window is shared: 3 used');
    });
  });

  describe("a customer's own deal", () => {
    test('an override changes a limit for one group, null lifts it, and the shorthand names can be overridden', async () => {
      const c = await customer([{ name: 'images-month', usage_types: ['image'], window: 'billing_period', units: 1 }], { monthly_quota: 2 });
      assert.equal((await check(c.key, 'image')).body.allowed, true);
      assert.equal((await check(c.key, 'image')).body.denied_by, 'images-month');
      const patched = await admin.patch(`/admin/groups/${c.group}`, { limit_overrides: { 'images-month': 2 } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal((await check(c.key, 'image')).body.allowed, true, 'the customer\'s own 2');
      assert.equal((await check(c.key, 'image')).body.denied_by, 'month', 'then the plan\'s monthly quota of 2');
      await admin.patch(`/admin/groups/${c.group}`, { limit_overrides: { 'images-month': null, month: 10 } });
      const lifted = await check(c.key, 'image');
      assert.equal(lifted.body.allowed, true);
      assert.equal(lifted.body.monthly_quota, 10);
      assert.deepEqual(lifted.body.limits.map((l: { name: string }) => l.name), ['month']);
    });
  });

  describe('RateLimit headers and the usage endpoint', () => {
    test('one named policy per limit, parsed as RFC 8941 lists; /v1/usage lists the limits with their use (its own call counted in the windows over every kind)', async () => {
      const c = await customer([
        { name: 'burst', window: 'second', units: 1000, scope: 'key' },
        { name: 'tokens-minute', usage_types: ['llm'], window: 'minute', units: 90000, scope: 'app' },
      ], { monthly_quota: 1000, rate_limit_per_minute: 600 });
      const res = await check(c.key, 'llm', 500);
      assert.equal(res.status, 200);
      const policy = parseList(res.headers.get('ratelimit-policy')!);
      assert.deepEqual(policy.map(([name, params]) => [name, params.get('q'), params.get('w')]),
        [['minute', 600, 60], ['month', 1000, 31 * 86400], ['burst', 1000, 1], ['tokens-minute', 90000, 60]]);
      const state = parseList(res.headers.get('ratelimit')!);
      assert.deepEqual(state.map(([name, params]) => [name, params.get('r')]), [['minute', 100], ['month', 500], ['burst', 500], ['tokens-minute', 89500]]);
      const usage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } });
      assert.equal(usage.status, 200);
      assert.equal(usage.body.monthly_used, 500);
      assert.deepEqual(usage.body.limits.map((l: { name: string; used: number }) => [l.name, l.used]),
        [['minute', 501], ['month', 500], ['burst', 501], ['tokens-minute', 500]]);
    });
  });
});
