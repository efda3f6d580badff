import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { adminClient, ADMIN_TOKEN, request, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';
import { assertError, dashboardCall, signIn, type DashboardSession } from '../helpers/dashboard.js';

// The dashboard's part of named limits and credits: the grants routes of the
// admin API served again for the provider's session, and the group's limits with their use.

eachStore((store) => {
  const T0 = Date.parse('2026-11-20T10:00:00.000Z');
  const PERIOD_END = Date.parse('2026-12-01T00:00:00.000Z');
  let server: TestServer;
  let admin: AdminClient;
  let provider: DashboardSession;
  let n = 0;

  before(async () => {
    server = await startTestServer({ store, clock: new ManualClock(T0) });
    admin = adminClient(server.url);
    provider = (await signIn(server.url, ADMIN_TOKEN)).session!;
  });
  after(async () => server.close());

  const dash = (method: string, path: string, options: Parameters<typeof dashboardCall>[4] = {}) => dashboardCall(server.url, provider, method, path, options);

  /** A plan with named limits of every scope and credits, a group on it (with its own deal on one limit), an app and a key. */
  async function customer() {
    n += 1;
    const ids = { plan: `dc-plan-${n}`, group: `dc-group-${n}`, app: `dc-app-${n}` };
    const plan = await admin.post('/admin/plans', {
      id: ids.plan, monthly_quota: 100, rate_limit_per_minute: 50, credits: { per_unit: { image: 1, pdf: 5 } },
      limits: [
        { name: 'images-month', usage_types: ['image'], window: 'billing_period', units: 20 },
        { name: 'pages-day', usage_types: ['pdf'], window: 'day', units: 10 },
        { name: 'burst', window: 'second', units: 5, scope: 'key' },
        { name: 'app-hour', window: 'hour', units: 30, scope: 'app' },
        { name: 'lifted', window: 'hour', units: 1 },
      ],
    });
    assert.equal(plan.status, 201, JSON.stringify(plan.body));
    assert.equal((await admin.post('/admin/groups', { id: ids.group, name: ids.group, plan_id: ids.plan })).status, 201);
    const deal = await admin.patch(`/admin/groups/${ids.group}`, { limit_overrides: { 'pages-day': 8, lifted: null } });
    assert.equal(deal.status, 200, JSON.stringify(deal.body));
    assert.equal((await admin.post(`/admin/groups/${ids.group}/apps`, { id: ids.app })).status, 201);
    const key = (await admin.post(`/admin/apps/${ids.app}/keys`, { name: 'k' })).body.key as string;
    return { ...ids, key };
  }

  describe('grants through the dashboard', () => {
    test('the provider session lists, makes and voids grants as the admin API does; a change needs the CSRF token and the same origin', async () => {
      const c = await customer();
      const grants = `/dashboard/api/admin/groups/${c.group}/grants`;
      const body = { amount: 300, priority: 2, note: 'launch offer', idempotency_key: 'form-1' };

      assertError(await dash('POST', grants, { body, csrf: null }), 403, 'forbidden', /CSRF token/);
      assertError(await dash('POST', grants, { body, headers: { origin: 'https://evil.example' } }), 403, 'forbidden', /Cross-site/);
      assert.deepEqual((await admin.get(`/admin/groups/${c.group}/grants`)).body.items, [], 'nothing refused was granted');

      const made = await dash('POST', grants, { body });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.deepEqual([made.body.amount, made.body.remaining, made.body.priority, made.body.note, made.body.status], [300, 300, 2, 'launch offer', 'active']);
      // The form's double submit: the same idempotency key answers the first grant, and grants nothing more.
      const again = await dash('POST', grants, { body });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, made.body);
      assertError(await dash('POST', grants, { body: { ...body, amount: 5 } }), 409, 'conflict');
      assertError(await dash('POST', grants, { body: { amount: 0 } }), 400, 'invalid_request');

      assert.equal((await admin.post('/v1/check', { key: c.key, usage_type: 'pdf', cost: 2 })).body.credits.balance, 290);
      const list = await dash('GET', grants, { csrf: null });
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assert.deepEqual(list.body.items.map((g: any) => [g.id, g.used, g.remaining]), [[made.body.id, 10, 290]]);
      assert.deepEqual([list.body.balance, list.body.debt], [290, 0]);
      assert.deepEqual(list.body, (await admin.get(`/admin/groups/${c.group}/grants`)).body, 'the same answer as the admin API');

      assertError(await dash('POST', `${grants}/${made.body.id}/void`, { csrf: null }), 403, 'forbidden');
      const voided = await dash('POST', `${grants}/${made.body.id}/void`);
      assert.equal(voided.status, 200, JSON.stringify(voided.body));
      assert.equal(voided.body.status, 'voided');
      assert.equal((await dash('GET', grants)).body.balance, 0);
      assertError(await dash('POST', `${grants}/crg_missing/void`), 404, 'not_found');
    });

    test('the grants routes are closed to the bearer token, to no session and to a customer session', async () => {
      const c = await customer();
      const grants = `${server.url}/dashboard/api/admin/groups/${c.group}/grants`;
      assertError(await request(grants, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }), 401, 'unauthorized');
      assertError(await request(grants, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { amount: 1 } }), 401, 'unauthorized');
      const customerSession = (await signIn(server.url, c.key)).session!;
      assertError(await dashboardCall(server.url, customerSession, 'GET', `/dashboard/api/admin/groups/${c.group}/grants`), 403, 'forbidden', /provider/);
      assertError(await dashboardCall(server.url, customerSession, 'POST', `/dashboard/api/admin/groups/${c.group}/grants`, { body: { amount: 1 } }), 403, 'forbidden');
      assert.deepEqual((await admin.get(`/admin/groups/${c.group}/grants`)).body.items, []);
    });

    test('are in the OpenAPI document under the dashboard tag, with the session as their security', async () => {
      const document = (await request(`${server.url}/openapi.json`)).body;
      const operations = [
        ['/dashboard/api/admin/groups/{group_id}/grants', 'get', 'dashboardListGrants'],
        ['/dashboard/api/admin/groups/{group_id}/grants', 'post', 'dashboardCreateGrant'],
        ['/dashboard/api/admin/groups/{group_id}/grants/{grant_id}/void', 'post', 'dashboardVoidGrant'],
        ['/dashboard/api/groups/{group_id}/limits', 'get', 'dashboardGetGroupLimits'],
      ];
      for (const [path, method, id] of operations) {
        const operation = document.paths[path!]?.[method!];
        assert.equal(operation?.operationId, id, `${method} ${path}`);
        assert.deepEqual(operation.tags, ['dashboard']);
        assert.deepEqual(operation.security, [{ dashboard_session: [] }]);
      }
    });
  });

  describe("a group's limits", () => {
    test("are its own limits with their use, its overrides applied, lifted and app or key limits left out; reading consumes nothing", async () => {
      const c = await customer();
      assert.equal((await admin.post(`/admin/groups/${c.group}/grants`, { amount: 100 })).status, 201);
      for (const [usageType, cost] of [['image', 3], ['pdf', 2]] as const) {
        const res = await admin.post('/v1/check', { key: c.key, usage_type: usageType, cost });
        assert.equal(res.body.code, 'ok', JSON.stringify(res.body));
      }
      const expected = [
        { name: 'minute', window: 'minute', scope: 'group', units: 50, used: 5, remaining: 45 },
        { name: 'month', window: 'billing_period', scope: 'group', units: 100, used: 5, remaining: 95 },
        { name: 'images-month', window: 'billing_period', scope: 'group', units: 20, used: 3, remaining: 17 },
        { name: 'pages-day', window: 'day', scope: 'group', units: 8, used: 2, remaining: 6 },
      ];
      for (let read = 1; read <= 2; read++) {
        const res = await dash('GET', `/dashboard/api/groups/${c.group}/limits`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.group_id, c.group);
        assert.deepEqual(res.body.limits.map(({ reset: _, ...rest }: any) => rest), expected, `read ${read}`);
        const reset = Object.fromEntries(res.body.limits.map((l: any) => [l.name, l.reset]));
        assert.equal(reset.month, (PERIOD_END - T0) / 1000, 'a billing period resets at its end');
        assert.equal(reset['images-month'], (PERIOD_END - T0) / 1000);
        // A sliding window holds what it counted for up to two of its lengths (the last window is weighed in).
        assert.ok(reset.minute > 0 && reset.minute <= 120, `minute resets in ${reset.minute} s`);
        assert.ok(reset['pages-day'] > 0 && reset['pages-day'] <= 2 * 86_400, `pages-day resets in ${reset['pages-day']} s`);
      }
      assertError(await dash('GET', '/dashboard/api/groups/no-such-group/limits'), 404, 'not_found');
      const customerSession = (await signIn(server.url, c.key)).session!;
      assertError(await dashboardCall(server.url, customerSession, 'GET', `/dashboard/api/groups/${c.group}/limits`), 403, 'forbidden');
      assertError(await request(`${server.url}/dashboard/api/groups/${c.group}/limits`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }), 401, 'unauthorized');
    });
  });
});
