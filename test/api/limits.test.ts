import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminClient, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

// Named limits, per-customer overrides and a plan's credits in the admin API: what plans,
// groups and apps take and answer. How calls are counted against them is the engine's.

const PRO = {
  id: 'pro', time_zone: 'Asia/Kolkata', monthly_quota: 100000, rate_limit_per_minute: 600,
  limits: [
    { name: 'images-month', usage_types: ['image', 'image-async'], window: 'billing_period', units: 50000 },
    { name: 'pages-day', usage_types: ['pdf'], window: 'day', units: 2000 },
    { name: 'burst', window: 'second', units: 20, scope: 'key' },
    { name: 'tokens-minute', usage_types: ['llm'], window: 'minute', units: 90000, scope: 'app' },
  ],
  credits: { per_unit: { image: 1, pdf: 5, '*': 1 }, grant_every_period: { amount: 10000, rollover: 'all' } },
};

/** The limits of PRO as answered: scope and usage types always present. */
const PRO_LIMITS = [
  { name: 'images-month', usage_types: ['image', 'image-async'], window: 'billing_period', units: 50000, scope: 'group' },
  { name: 'pages-day', usage_types: ['pdf'], window: 'day', units: 2000, scope: 'group' },
  { name: 'burst', usage_types: null, window: 'second', units: 20, scope: 'key' },
  { name: 'tokens-minute', usage_types: ['llm'], window: 'minute', units: 90000, scope: 'app' },
];

eachStore((store) => {
  let server: TestServer;
  let admin: AdminClient;
  before(async () => {
    server = await startTestServer({ store });
    admin = adminClient(server.url);
    assert.equal((await admin.post('/admin/plans', PRO)).status, 201);
    assert.equal((await admin.post('/admin/groups', { id: 'acme', name: 'Acme', plan_id: 'pro' })).status, 201);
    assert.equal((await admin.post('/admin/groups/acme/apps', { id: 'acme-ocr' })).status, 201);
  });
  after(async () => server.close());

  describe('named limits and credits: what works', () => {
    test('a plan with limits and credits reads back with the defaults filled in, in the list too', async () => {
      const plan = (await admin.get('/admin/plans/pro')).body;
      assert.deepEqual(plan.limits, PRO_LIMITS);
      assert.deepEqual(plan.credits, PRO.credits);
      assert.deepEqual([plan.monthly_quota, plan.rate_limit_per_minute], [100000, 600], 'the shorthand stays as it was');
      const listed = (await admin.get('/admin/plans')).body.items.find((p: any) => p.id === 'pro');
      assert.deepEqual([listed.limits, listed.credits], [PRO_LIMITS, PRO.credits]);
    });

    test('a plan, group and app without them answer empty lists, no overrides and no credits', async () => {
      await admin.post('/admin/plans', { id: 'plain', monthly_quota: 10, rate_limit_per_minute: 1 });
      const plan = (await admin.get('/admin/plans/plain')).body;
      assert.deepEqual([plan.limits, plan.credits], [[], null]);
      const group = (await admin.post('/admin/groups', { id: 'plain-co', name: 'Plain', plan_id: 'plain' })).body;
      assert.deepEqual([group.limit_overrides, group.limits], [{}, []]);
      const app = (await admin.post('/admin/groups/plain-co/apps', { id: 'plain-app' })).body;
      assert.deepEqual([app.limit_overrides, app.limits], [{}, []]);
      assert.deepEqual((await admin.get('/admin/groups/plain-co/apps')).body.items[0].limit_overrides, {});
    });

    test('PATCH a plan: limits replace the list, credits change or go (null), rollover defaults to none', async () => {
      await admin.post('/admin/plans', { id: 'changing', monthly_quota: 10, rate_limit_per_minute: 1 });
      const patched = await admin.patch('/admin/plans/changing', {
        limits: [{ name: 'docs-hour', window: 'hour', units: 0 }], credits: { per_unit: { '*': 2 }, grant_every_period: { amount: 5 } },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual(patched.body.limits, [{ name: 'docs-hour', usage_types: null, window: 'hour', units: 0, scope: 'group' }]);
      assert.deepEqual(patched.body.credits, { per_unit: { '*': 2 }, grant_every_period: { amount: 5, rollover: 'none' } });
      const rolled = await admin.patch('/admin/plans/changing', { credits: { per_unit: { pdf: 3 }, grant_every_period: { amount: 5, rollover: 100 } } });
      assert.deepEqual(rolled.body.credits, { per_unit: { pdf: 3 }, grant_every_period: { amount: 5, rollover: 100 } });
      const cleared = await admin.patch('/admin/plans/changing', { credits: null, limits: [] });
      assert.deepEqual([cleared.body.credits, cleared.body.limits, cleared.body.monthly_quota], [null, [], 10]);
    });

    test("PATCH a group's and an app's overrides and own limits; null lifts a limit; the app names the group's limits", async () => {
      const group = await admin.patch('/admin/groups/acme', {
        limit_overrides: { 'images-month': 80000, burst: null, month: 250000 },
        limits: [{ name: 'exports-day', usage_types: ['export'], window: 'day', units: 100 }],
      });
      assert.equal(group.status, 200, JSON.stringify(group.body));
      assert.deepEqual(group.body.limit_overrides, { 'images-month': 80000, burst: null, month: 250000 });
      assert.deepEqual(group.body.limits, [{ name: 'exports-day', usage_types: ['export'], window: 'day', units: 100, scope: 'group' }]);
      assert.equal(group.body.plan_id, 'pro');

      const app = await admin.patch('/admin/apps/acme-ocr', {
        limit_overrides: { 'exports-day': 10, 'app-minute': 5, 'tokens-minute': null },
        limits: [{ name: 'key-second', window: 'second', units: 3, scope: 'key' }, { name: 'app-day', window: 'day', units: 1000 }],
      });
      assert.equal(app.status, 200, JSON.stringify(app.body));
      assert.deepEqual(app.body.limit_overrides, { 'exports-day': 10, 'app-minute': 5, 'tokens-minute': null });
      assert.deepEqual(app.body.limits.map((l: any) => [l.name, l.scope]), [['key-second', 'key'], ['app-day', 'app']], "an app's limit defaults to scope app");
      assert.deepEqual((await admin.get('/admin/apps/acme-ocr')).body.limit_overrides, app.body.limit_overrides);
      assert.deepEqual((await admin.get('/admin/groups/acme')).body.limit_overrides, group.body.limit_overrides);

      const renamed = await admin.patch('/admin/groups/acme', { name: 'Acme Inc' });
      assert.deepEqual(renamed.body.limit_overrides, group.body.limit_overrides, 'a rename keeps the deal');
      const cleared = await admin.patch('/admin/apps/acme-ocr', { limit_overrides: {} });
      assert.deepEqual([cleared.body.limit_overrides, cleared.body.limits.length], [{}, 2], 'overrides replace the whole map; limits stay');
    });

    test('a group and an app created with their own deal', async () => {
      const group = await admin.post('/admin/groups', { id: 'big', name: 'Big', plan_id: 'pro', limit_overrides: { 'pages-day': 10000 } });
      assert.equal(group.status, 201, JSON.stringify(group.body));
      assert.deepEqual(group.body.limit_overrides, { 'pages-day': 10000 });
      const app = await admin.post('/admin/groups/big/apps', { id: 'big-app', limit_overrides: { 'pages-day': 20 }, limits: [{ name: 'mine', window: 'minute', units: 7 }] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      assert.deepEqual([app.body.limit_overrides, app.body.limits[0].scope], [{ 'pages-day': 20 }, 'app']);
    });
  });

  describe('named limits and credits: what is refused', () => {
    const refused = async (response: Promise<{ status: number; body: any }>, ...parts: RegExp[]) => {
      const { status, body } = await response;
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_request');
      for (const part of parts) assert.match(body.message, part);
    };
    const plan = (limits: unknown[], extra: object = {}) => ({ id: `p-${Math.random().toString(36).slice(2, 8)}`, monthly_quota: 1, rate_limit_per_minute: 1, limits, ...extra });

    test('a name twice in a plan, a reserved name, a bad window, units out of range', async () => {
      await refused(admin.post('/admin/plans', plan([{ name: 'a', window: 'day', units: 1 }, { name: 'a', window: 'hour', units: 2 }])), /"limits\.1\.name"/, /twice/);
      await refused(admin.post('/admin/plans', plan([{ name: 'month', window: 'billing_period', units: 1 }])), /"limits\.0\.name"/, /reserved/, /monthly_quota/);
      await refused(admin.patch('/admin/plans/pro', { limits: [{ name: 'minute', window: 'minute', units: 1 }] }), /reserved/);
      await refused(admin.post('/admin/plans', plan([{ name: 'a', window: 'week', units: 1 }])), /"limits\.0\.window"/);
      await refused(admin.post('/admin/plans', plan([{ name: 'a', window: 'day', units: -1 }])), /"limits\.0\.units"/);
      await refused(admin.post('/admin/plans', plan([{ name: 'a', window: 'day', units: 1.5 }])), /"limits\.0\.units"/);
      await refused(admin.post('/admin/plans', plan([{ name: 'a b', window: 'day', units: 1 }])), /"limits\.0\.name"/);
      await refused(admin.post('/admin/plans', plan([{ name: 'a', window: 'day', units: 1, usage_types: [] }])), /"limits\.0\.usage_types"/);
      await refused(admin.post('/admin/plans', plan([{ name: 'a', window: 'day', units: 1, usage_types: ['x', 'x'] }])), /"limits\.0\.usage_types"/);
      assert.deepEqual((await admin.get('/admin/plans/pro')).body.limits, PRO_LIMITS, 'a refused change changes nothing');
    });

    test('credits: fractional or negative prices, a bad usage type, a zero grant, a bad rollover', async () => {
      await refused(admin.post('/admin/plans', plan([], { credits: { per_unit: { image: 0.5 } } })), /"credits\.per_unit/);
      await refused(admin.post('/admin/plans', plan([], { credits: { per_unit: { image: -1 } } })), /"credits\.per_unit/);
      await refused(admin.post('/admin/plans', plan([], { credits: { per_unit: { 'not a type': 1 } } })), /credits\.per_unit/);
      await refused(admin.post('/admin/plans', plan([], { credits: { per_unit: {}, grant_every_period: { amount: 0 } } })), /"credits\.grant_every_period\.amount"/);
      await refused(admin.post('/admin/plans', plan([], { credits: { per_unit: {}, grant_every_period: { amount: 1, rollover: 'some' } } })), /"credits\.grant_every_period\.rollover"/);
    });

    test('an override of no such limit, named in the answer; a bad override value', async () => {
      await refused(admin.patch('/admin/groups/acme', { limit_overrides: { 'images-month': 1, nope: 5, 'app-month': 1 } }), /"limit_overrides"/, /"nope"/, /"app-month"/);
      await refused(admin.post('/admin/groups', { name: 'X', plan_id: 'pro', limit_overrides: { nope: 1 } }), /"nope"/);
      await refused(admin.patch('/admin/apps/acme-ocr', { limit_overrides: { unknown: null } }), /"unknown"/);
      await refused(admin.patch('/admin/groups/acme', { limit_overrides: { burst: -3 } }), /"limit_overrides\.burst"/);
      await refused(admin.patch('/admin/groups/acme', { limit_overrides: { burst: 'many' } }), /"limit_overrides\.burst"/);
    });

    test("own limits: not the plan's or the group's names, not reserved, an app's not group-wide", async () => {
      await refused(admin.patch('/admin/groups/acme', { limits: [{ name: 'burst', window: 'day', units: 1 }] }), /"limits\.0\.name"/, /already a limit/);
      await refused(admin.patch('/admin/groups/acme', { limits: [{ name: 'app-month', window: 'day', units: 1 }] }), /reserved/);
      await refused(admin.patch('/admin/apps/acme-ocr', { limits: [{ name: 'pages-day', window: 'day', units: 1 }] }), /already a limit/);
      await refused(admin.patch('/admin/apps/acme-ocr', { limits: [{ name: 'wide', window: 'day', units: 1, scope: 'group' }] }), /"limits\.0\.scope"/);
      await refused(admin.post('/admin/groups/acme/apps', { limits: [{ name: 'a', window: 'day', units: 1 }, { name: 'a', window: 'day', units: 1 }] }), /twice/);
    });

    test('an unknown field in a limit or in credits is refused', async () => {
      await refused(admin.post('/admin/plans', plan([{ name: 'a', window: 'day', units: 1, per: 'x' }])), /"limits\.0\.per" is not recognised/);
      await refused(admin.post('/admin/plans', plan([], { credits: { per_unit: {}, refill: 1 } })), /"credits\.refill" is not recognised/);
    });
  });
});
