import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminApiDemoCatalog, seedDemo, storeDemoCatalog } from '../../src/cli/demo.js';
import { DEMO } from '../../src/cli/demo-text.js';
import { Tollgate } from '../../src/client/index.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ store });
  });
  after(async () => server.close());

  test('the demo is seeded by one rule, on the store (serve --demo) or through the admin API: the same customer reused, one live demo key', async () => {
    const client = new Tollgate({ baseUrl: server.url, token: ADMIN_TOKEN });
    const onStore = storeDemoCatalog(server.tollgate.services);
    const overApi = adminApiDemoCatalog(client.admin);

    const first = await seedDemo(onStore);
    assert.deepEqual(first.revoked, []);
    const second = await seedDemo(overApi);
    assert.deepEqual(second.revoked, [`${first.secret.slice(0, 7)}…`], 'the store\'s demo key, revoked through the API');
    const third = await seedDemo(onStore);
    assert.deepEqual(third.revoked, [`${second.secret.slice(0, 7)}…`], 'the API\'s demo key, revoked on the store');

    const plan = await client.admin.plans.get(DEMO.planId);
    assert.deepEqual([plan.monthlyQuota, plan.rateLimitPerMinute, plan.pricePerCall, plan.timeZone], [DEMO.monthlyQuota, DEMO.ratePerMinute, DEMO.pricePerCall, 'UTC']);
    assert.deepEqual((await client.admin.groups.list()).items.map((g) => [g.id, g.planId]), [[DEMO.groupId, DEMO.planId]]);
    const keys = (await client.admin.keys.list({ appId: DEMO.appId })).items;
    assert.deepEqual([keys.length, keys.filter((k) => k.revokedAt === null).map((k) => k.name)], [3, [DEMO.keyName]]);
    for (const [secret, allowed] of [[first.secret, false], [second.secret, false], [third.secret, true]] as const) {
      assert.equal((await client.check({ key: secret, usageType: 'image' })).allowed, allowed);
    }
  });
});
