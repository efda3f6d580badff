import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';

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
  server = await startTestServer({ config: { metricsToken: METRICS_TOKEN } });
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
    const other = await startTestServer();
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
    const other = await startTestServer();
    try {
      const text = await scrape(other.url);
      assert.equal(sample(text, 'tollgate_checks_total', { outcome: 'allowed', source: 'check_api' }), 0);
      assert.ok(sample(await scrape(server.url), 'tollgate_checks_total', { outcome: 'allowed', source: 'check_api' }) >= 2);
    } finally {
      await other.close();
    }
  });
});
