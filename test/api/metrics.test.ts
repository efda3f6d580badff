import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { until } from '../helpers/until.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

  /** The value of one sample of the exposition text; 0 when the series is absent (prom-client omits untouched label sets). */
  function sample(text: string, name: string, labels: Record<string, string> = {}): number {
    for (const line of text.split('\n')) {
      const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match === null || match[1] !== name) continue;
      const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
    }
    return 0;
  }

  async function scrape(url: string, token = ADMIN_TOKEN): Promise<string> {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return res.text();
  }

  let server: TestServer;
  let admin: AdminClient;

  before(async () => {
    server = await startTestServer({ store, config: { metricsToken: METRICS_TOKEN } });
    admin = adminClient(server.url);
  });
  after(async () => server.close());

  describe('GET /metrics: who may read it', () => {
    test('the admin token and the metrics token may; nobody else', async () => {
      assert.match(await scrape(server.url, ADMIN_TOKEN), /^# HELP tollgate_checks_total /m);
      assert.match(await scrape(server.url, METRICS_TOKEN), /^# HELP tollgate_checks_total /m);
      const serviceToken = (await admin.post('/admin/service-tokens', { name: 'backend' })).body.token as string;
      for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${METRICS_TOKEN}x` }, { authorization: `Bearer ${serviceToken}` }, { authorization: METRICS_TOKEN }]) {
        const res = await request(`${server.url}/metrics`, { headers });
        assert.equal(res.status, 401, JSON.stringify(headers));
        assert.equal(res.body.error, 'unauthorized');
      }
    });

    test('the metrics token opens nothing else', async () => {
      const res = await request(`${server.url}/admin/plans`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      assert.equal(res.status, 401);
    });
  });

  describe('GET /metrics: what it counts', () => {
    test('checks by outcome with their latencies, commit batches, and the HTTP histogram by route pattern, never by id', async () => {
      const c = await setupCustomer(admin, { monthlyQuota: 3, ratePerMinute: 2 });
      const before = await scrape(server.url);
      const check = (body: Record<string, unknown>) => admin.post('/v1/check', { usage_type: 'image', ...body });
      assert.equal((await check({ key: c.key })).body.code, 'ok');
      assert.equal((await check({ key: c.key })).body.code, 'ok');
      assert.equal((await check({ key: c.key })).body.code, 'rate_limited');
      assert.equal((await check({ key: 'tg_no-such-key' })).body.code, 'unauthorized');
      const q = await setupCustomer(admin, { monthlyQuota: 1 });
      assert.equal((await check({ key: q.key, cost: 2 })).body.code, 'quota_exceeded');
      assert.equal((await admin.get(`/admin/plans/${c.planId}`)).status, 200);
      assert.equal((await admin.get('/admin/plans/no-such-plan')).status, 404);

      const text = await scrape(server.url);
      const grew = (name: string, labels: Record<string, string> = {}) => sample(text, name, labels) - sample(before, name, labels);
      for (const [outcome, n] of [['allowed', 2], ['rate_limited', 1], ['unauthorized', 1], ['quota_exceeded', 1], ['error', 0]] as const) {
        assert.equal(grew('tollgate_checks_total', { outcome, source: 'check_api' }), n, outcome);
        assert.equal(grew('tollgate_check_duration_seconds_count', { outcome, source: 'check_api' }), n, outcome);
      }
      assert.ok(grew('tollgate_check_duration_seconds_sum', { outcome: 'allowed', source: 'check_api' }) > 0);
      // Admitted calls are the only writes here: each is in one committed batch.
      assert.equal(grew('tollgate_commit_batch_size_sum'), 2);
      assert.equal(grew('tollgate_commit_batch_size_count'), 2);
      assert.equal(grew('tollgate_commit_duration_seconds_count'), 2);
      assert.equal(grew('tollgate_commit_wait_seconds_count'), 2);
      assert.equal(sample(text, 'tollgate_commit_failures_total'), 0);

      assert.equal(grew('tollgate_http_request_duration_seconds_count', { method: 'POST', route: '/v1/check', status_class: '2xx' }), 5);
      assert.equal(grew('tollgate_http_request_duration_seconds_count', { method: 'GET', route: '/admin/plans/:plan_id', status_class: '2xx' }), 1);
      assert.equal(grew('tollgate_http_request_duration_seconds_count', { method: 'GET', route: '/admin/plans/:plan_id', status_class: '4xx' }), 1);
      for (const id of [c.planId, c.groupId, c.appId, c.keyId, q.groupId, 'no-such-plan']) assert.ok(!text.includes(id), `${id} is not a label`);
    });

    test('requests that match no route are one series, whatever their path', async () => {
      const before = await scrape(server.url);
      await request(`${server.url}/nothing/here`);
      await request(`${server.url}/nor/here`);
      const text = await scrape(server.url);
      const labels = { method: 'GET', route: 'unmatched', status_class: '4xx' };
      assert.equal(sample(text, 'tollgate_http_request_duration_seconds_count', labels) - sample(before, 'tollgate_http_request_duration_seconds_count', labels), 2);
      assert.ok(!text.includes('/nothing/here'));
    });

    test('ingested events by outcome, the backlog gauges and the process metrics', async () => {
      const c = await setupCustomer(admin);
      const before = await scrape(server.url);
      const events = [
        { id: 'm-1', app_id: c.appId, usage_type: 'pdf' }, { id: 'm-1', app_id: c.appId, usage_type: 'pdf' },
        { id: 'm-2', app_id: 'no-such-app', usage_type: 'pdf' },
      ];
      assert.deepEqual((await admin.post('/v1/events', events)).body, {
        accepted: 1, duplicates: 1, rejected: [{ index: 2, id: 'm-2', error: 'unknown_app', message: 'No app with id "no-such-app".' }],
      });
      const text = await scrape(server.url);
      for (const outcome of ['accepted', 'duplicate', 'rejected']) {
        assert.equal(sample(text, 'tollgate_ingested_events_total', { outcome }) - sample(before, 'tollgate_ingested_events_total', { outcome }), 1, outcome);
      }
      // Nothing is being written now; the gauges are there, read from the store at the scrape.
      for (const gauge of ['tollgate_writes_queued', 'tollgate_writes_committing', 'tollgate_spool_batches']) {
        assert.match(text, new RegExp(`^${gauge} 0$`, 'm'));
      }
      assert.match(text, /^tollgate_rollup_pending_events \d+$/m);
      assert.match(text, /^process_cpu_user_seconds_total \d/m);
      assert.match(text, /^nodejs_eventloop_lag_seconds \d/m);
    });

    test('a check that fails is counted as an error', async () => {
      const other = await startTestServer({ store });
      try {
        const c = await setupCustomer(adminClient(other.url));
        await other.tollgate.services.store.close();
        const res = await adminClient(other.url).post('/v1/check', { key: c.key, usage_type: 'image' });
        assert.equal(res.status, 500);
        const text = await scrape(other.url);
        assert.equal(sample(text, 'tollgate_checks_total', { outcome: 'error', source: 'check_api' }), 1);
        assert.equal(sample(text, 'tollgate_http_request_duration_seconds_count', { method: 'POST', route: '/v1/check', status_class: '5xx' }), 1);
      } finally {
        await other.close();
      }
    });

    test('two servers in one process count apart', async () => {
      const other = await startTestServer({ store });
      try {
        const text = await scrape(other.url);
        assert.equal(sample(text, 'tollgate_checks_total', { outcome: 'allowed', source: 'check_api' }), 0);
        assert.ok(sample(await scrape(server.url), 'tollgate_checks_total', { outcome: 'allowed', source: 'check_api' }) >= 2);
      } finally {
        await other.close();
      }
    });
  });

  describe('GET /metrics: the exposition passes promtool', () => {
    test('promtool check metrics finds nothing to object to in a scrape that shows every Tollgate metric family', async (t) => {
      const promtool = ['/usr/bin/promtool', ...(process.env.PATH ?? '').split(':').map((dir) => join(dir, 'promtool'))].find((path) => existsSync(path));
      if (promtool === undefined) {
        if (process.env.CI === 'true') assert.fail('promtool is missing: .ci/run installs it (apt-get install prometheus)');
        return t.skip('promtool is missing (apt-get install prometheus)');
      }
      // Traffic that touches every family: allowed and refused checks, an unknown key, ingested events of each
      // outcome, a route that does not exist, and a webhook delivered (the 80% threshold of a quota of 5).
      const hooks = await startReceiver();
      try {
        const c = await setupCustomer(admin, { monthlyQuota: 5, ratePerMinute: 4 });
        assert.equal((await admin.post('/admin/webhooks', { url: hooks.url, group_ids: [c.groupId] })).status, 201);
        const codes = [];
        for (let i = 0; i < 6; i += 1) codes.push((await admin.post('/v1/check', { key: c.key, usage_type: 'image' })).body.code);
        assert.deepEqual(codes, ['ok', 'ok', 'ok', 'ok', 'rate_limited', 'rate_limited']);
        assert.equal((await admin.post('/v1/check', { key: c.key, usage_type: 'image', cost: 9 })).body.code, 'quota_exceeded');
        assert.equal((await admin.post('/v1/check', { key: 'tg_no-such-key', usage_type: 'image' })).body.code, 'unauthorized');
        const events = [{ id: 'p-1', app_id: c.appId, usage_type: 'pdf' }, { id: 'p-1', app_id: c.appId, usage_type: 'pdf' }, { id: 'p-2', app_id: 'nobody', usage_type: 'pdf' }];
        assert.equal((await admin.post('/v1/events', events)).status, 200);
        assert.equal((await request(`${server.url}/no/such/route`)).status, 404);
        await until('the webhook to be delivered and counted', async () => sample(await scrape(server.url), 'tollgate_webhook_deliveries_total', { outcome: 'delivered' }) >= 1);
      } finally {
        await hooks.close();
      }

      const text = await scrape(server.url);
      const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
      for (const { name } of families.filter((f) => f.name.startsWith('tollgate_'))) {
        assert.match(text, new RegExp(`^${name}(_bucket|_sum|_count)?(\\{[^}]*\\})? `, 'm'), `${name} has samples`);
      }
      assert.ok(families.length > 20, `${families.length} families`);
      for (const { name, type } of families) assert.ok(type === 'counter' || !name.endsWith('_total'), `${name} is a ${type}, not a counter: no _total`);
      const checked = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(checked.error, undefined);
      assert.equal(`${checked.stdout}${checked.stderr}`.trim(), '', 'promtool has nothing to say');
      assert.equal(checked.status, 0);
    });
  });
});
