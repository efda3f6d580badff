import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminClient, request, setupCustomer, startTestServer, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ store }); });
  after(async () => { await server.close(); });

  test('healthz answers 200 once the server is ready', async () => {
    const res = await request(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  test('a checked call shows in /v1/usage', async () => {
    const admin = adminClient(server.url);
    const customer = await setupCustomer(admin, { monthlyQuota: 10, ratePerMinute: 5 });
    const check = await admin.post('/v1/check', { key: customer.key, usage_type: 'image' });
    assert.equal(check.status, 200);
    assert.equal(check.body.allowed, true);
    const usage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': customer.key } });
    assert.equal(usage.status, 200);
    assert.equal(usage.body.monthly_used, 1);
    assert.equal(usage.body.monthly_quota, 10);
    assert.equal(usage.body.rate_limit_per_minute, 5);
  });
});
