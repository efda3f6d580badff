import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminClient, request, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  let server: TestServer;
  let admin: AdminClient;
  before(async () => {
    server = await startTestServer({ store });
    admin = adminClient(server.url);
  });
  after(async () => server.close());

  describe('admin API: what works', () => {
    test('plans, groups, apps and keys: create 201, show, list, change', async () => {
      const plan = await admin.post('/admin/plans', { id: 'pro', monthly_quota: 10000, rate_limit_per_minute: 200, price_per_call: '0.002', time_zone: 'Asia/Kolkata' });
      assert.equal(plan.status, 201);
      assert.equal(plan.body.time_zone, 'Asia/Kolkata');
      assert.equal(plan.body.price_per_call, '0.002');
      const defaults = await admin.post('/admin/plans', { id: 'free', monthly_quota: 100, rate_limit_per_minute: 10 });
      assert.equal(defaults.body.time_zone, 'UTC');
      assert.equal(defaults.body.price_per_call, null);

      const group = await admin.post('/admin/groups', { name: 'Acme', plan_id: 'pro' });
      assert.equal(group.status, 201);
      assert.match(group.body.id, /^grp_/);
      const app = await admin.post(`/admin/groups/${group.body.id}/apps`, { id: 'acme-ocr', name: 'OCR', monthly_quota: 500 });
      assert.equal(app.status, 201);
      assert.deepEqual([app.body.app_id, app.body.group_id, app.body.monthly_quota, app.body.rate_limit_per_minute], ['acme-ocr', group.body.id, 500, null]);

      const key = await admin.post('/admin/apps/acme-ocr/keys', { name: 'production' });
      assert.equal(key.status, 201);
      assert.match(key.body.key, /^tg_[1-9A-HJ-NP-Za-km-z]{30,}$/, 'prefix and at least 128 bits in base58');
      assert.equal(key.body.hint, `${key.body.key.slice(0, 7)}…`);
      assert.equal(key.body.group_id, group.body.id);

      const shown = await admin.get(`/admin/keys/${key.body.key_id}`);
      assert.equal(shown.status, 200);
      assert.equal(shown.body.key, undefined, 'the secret is shown at creation only');
      const listed = await admin.get('/admin/apps/acme-ocr/keys');
      assert.equal(listed.body.items.length, 1);
      assert.ok(!JSON.stringify(listed.body).includes(key.body.key));

      const patchedPlan = await admin.patch('/admin/plans/pro', { rate_limit_per_minute: -1 });
      assert.equal(patchedPlan.body.rate_limit_per_minute, -1);
      assert.equal(patchedPlan.body.monthly_quota, 10000);
      assert.equal((await admin.patch(`/admin/groups/${group.body.id}`, { plan_id: 'free' })).body.plan_id, 'free');
      const patchedApp = await admin.patch('/admin/apps/acme-ocr', { monthly_quota: null, rate_limit_per_minute: 5 });
      assert.deepEqual([patchedApp.body.monthly_quota, patchedApp.body.rate_limit_per_minute], [null, 5]);
      const zero = await admin.patch('/admin/apps/acme-ocr', { monthly_quota: 0 });
      assert.equal(zero.body.monthly_quota, 0, 'zero is a limit, not "none"');
      await admin.patch('/admin/apps/acme-ocr', { monthly_quota: null });

      assert.equal((await admin.get(`/admin/groups/${group.body.id}`)).body.name, 'Acme');
      assert.ok((await admin.get('/admin/plans')).body.items.some((p: any) => p.id === 'pro'));
      assert.ok((await admin.get(`/admin/groups/${group.body.id}/apps`)).body.items.some((a: any) => a.app_id === 'acme-ocr'));
    });

    test('a plan change applies to the next check', async () => {
      await admin.post('/admin/plans', { id: 'tiny', monthly_quota: 1, rate_limit_per_minute: -1 });
      await admin.post('/admin/groups', { id: 'tiny-co', name: 'Tiny', plan_id: 'tiny' });
      await admin.post('/admin/groups/tiny-co/apps', { id: 'tiny-app' });
      const { key } = (await admin.post('/admin/apps/tiny-app/keys')).body;
      assert.equal((await admin.post('/v1/check', { key, usage_type: 'image' })).body.allowed, true);
      assert.equal((await admin.post('/v1/check', { key, usage_type: 'image' })).body.code, 'quota_exceeded');
      await admin.patch('/admin/plans/tiny', { monthly_quota: 2 });
      assert.equal((await admin.post('/v1/check', { key, usage_type: 'image' })).body.allowed, true);
    });

    test('lists come in pages', async () => {
      for (let i = 0; i < 5; i += 1) await admin.post('/admin/plans', { id: `page-${i}`, monthly_quota: 1, rate_limit_per_minute: 1 });
      const first = await admin.get('/admin/plans?limit=2');
      assert.equal(first.body.items.length, 2);
      assert.ok(first.body.next);
      const second = await admin.get(`/admin/plans?limit=2&after=${encodeURIComponent(first.body.next)}`);
      assert.ok(second.body.items[0].id > first.body.next);
    });

    test('/openapi.json describes every route', async () => {
      const doc = await request(`${server.url}/openapi.json`);
      assert.equal(doc.status, 200);
      assert.equal(doc.body.openapi, '3.1.0');
      for (const path of ['/v1/check', '/v1/usage', '/v3/ocr-usage', '/admin/plans', '/admin/plans/{plan_id}', '/admin/groups/{group_id}/apps',
        '/admin/apps/{app_id}/keys', '/admin/keys/{key_id}', '/admin/service-tokens', '/admin/groups/{group_id}/usage', '/healthz']) {
        assert.ok(doc.body.paths[path], `${path} is documented`);
      }
      assert.ok(doc.body.paths['/v3/ocr-usage'].get.parameters.some((p: any) => p.name === 'group_by'));
    });
  });

  describe('admin API: what is refused', () => {
    test('404 for what does not exist, 409 for a taken id, 400 for bad fields', async () => {
      const cases: Array<[Promise<any>, number, RegExp]> = [
        [admin.get('/admin/plans/nope'), 404, /No plan with id "nope"/],
        [admin.post('/admin/groups', { name: 'x', plan_id: 'nope' }), 404, /No plan with id "nope"/],
        [admin.post('/admin/groups/nope/apps', {}), 404, /No group with id "nope"/],
        [admin.post('/admin/apps/nope/keys', {}), 404, /No app with id "nope"/],
        [admin.delete('/admin/keys/nope'), 404, /No key with id "nope"/],
        [admin.patch('/admin/apps/nope', { name: 'x' }), 404, /No app/],
        [admin.post('/admin/plans', { id: 'pro', monthly_quota: 1, rate_limit_per_minute: 1 }), 409, /already exists/],
        [admin.post('/admin/plans', { id: 'x', monthly_quota: -2, rate_limit_per_minute: 1 }), 400, /"monthly_quota" must be >= -1/],
        [admin.post('/admin/plans', { id: 'bad id!', monthly_quota: 1, rate_limit_per_minute: 1 }), 400, /"id" must match pattern/],
        [admin.post('/admin/plans', { id: 'x', monthly_quota: 1, rate_limit_per_minute: 1, price_per_call: '1,5' }), 400, /"price_per_call"/],
        [admin.post('/admin/plans', { id: 'x', monthly_quota: 1, rate_limit_per_minute: 1, time_zone: 'Nowhere/City' }), 400, /IANA time zone/],
        [admin.patch('/admin/plans/pro', {}), 400, /must NOT have fewer than 1 properties/],
        [admin.post('/admin/apps/acme-ocr/keys', { expires_at: '2000-01-01T00:00:00Z' }), 400, /"expires_at" must be in the future/],
        [admin.get('/admin/unknown'), 404, /No route for GET \/admin\/unknown/],
      ];
      for (const [pending, status, message] of cases) {
        const res = await pending;
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(typeof res.body.error, 'string');
        assert.match(res.body.message, message);
      }
    });
  });

  describe('admin API: what stays closed', () => {
    test('every admin route needs the admin token', async () => {
      for (const [method, path] of [['GET', '/admin/plans'], ['POST', '/admin/plans'], ['GET', '/admin/keys'], ['DELETE', '/admin/keys/x'], ['GET', '/admin/groups/x/usage']]) {
        for (const authorization of [undefined, 'Bearer wrong', 'Basic abc']) {
          const res = await request(`${server.url}${path}`, { method: method!, headers: authorization ? { authorization } : {}, ...(method === 'POST' ? { body: {} } : {}) });
          assert.equal(res.status, 401, `${method} ${path} with ${authorization}`);
          assert.equal(res.body.error, 'unauthorized');
        }
      }
    });

    // scale-out: its data directory holds no data; test/stores/scale-out/security.test.ts reads every PostgreSQL row and Redis key.
    if (store.name === 'embedded') test('no secret is stored in clear: the data directory holds only hashes', async () => {
      const key = (await admin.post('/admin/apps/acme-ocr/keys', {})).body.key as string;
      const token = (await admin.post('/admin/service-tokens', {})).body.token as string;
      await admin.post('/v1/check', { key, usage_type: 'image' });
      await server.tollgate.services.store.close();
      for (const file of readdirSync(server.dataDir)) {
        const bytes = readFileSync(join(server.dataDir, file)).toString('latin1');
        for (const secret of [key, token, 'test-admin-token-0123456789abcdef']) assert.ok(!bytes.includes(secret), `${file} holds a secret`);
      }
    });
  });
});
