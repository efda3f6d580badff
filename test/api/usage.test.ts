import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { requestArgsHash } from '../../src/domain/canonical-json.js';
import { adminClient, request, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  let server: TestServer;
  let admin: AdminClient;
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const H1 = requestArgsHash({ x: 1 });
  const H2 = requestArgsHash({ x: 2 });

  let c: Awaited<ReturnType<typeof setupCustomer>>;
  let app2: string;
  let other: Awaited<ReturnType<typeof setupCustomer>>;

  async function checkAt(iso: string, body: Record<string, unknown>) {
    clock.set(Date.parse(iso));
    const res = await admin.post('/v1/check', body);
    assert.equal(res.body.allowed, true, JSON.stringify(res.body));
  }

  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
    c = await setupCustomer(admin, { monthlyQuota: 1000, ratePerMinute: 1000 });
    app2 = `${c.appId}-two`;
    await admin.post(`/admin/groups/${c.groupId}/apps`, { id: app2 });
    const key2 = (await admin.post(`/admin/apps/${app2}/keys`, {})).body.key;
    await checkAt('2026-01-10T10:05:00Z', { key: c.key, usage_type: 'image', request_args: { x: 1 } });
    await checkAt('2026-01-10T10:05:30Z', { key: c.key, usage_type: 'image', request_args: { x: 1 } });
    await checkAt('2026-01-10T10:50:00Z', { key: c.key, usage_type: 'image', request_args: { x: 1 }, cost: 3 });
    await checkAt('2026-01-20T23:30:00Z', { key: key2, usage_type: 'pdf' });
    await checkAt('2026-02-03T00:10:00Z', { key: c.key, usage_type: 'image', request_args: { x: 2 } });
    other = await setupCustomer(admin);
    await checkAt('2026-01-10T10:05:00Z', { key: other.key, usage_type: 'image', cost: 100 });
    clock.set(Date.parse('2026-02-10T00:00:00Z'));
  });
  after(async () => server.close());

  function ocrUsage(params: Record<string, string>, headers: Record<string, string> = { app_id: c.appId, app_key: c.key }) {
    return request(`${server.url}/v3/ocr-usage?${new URLSearchParams(params)}`, { headers });
  }

  const R = (from_date: string, app_id: string, usage_type: string, request_args_hash: string, count: number) =>
    ({ from_date, app_id, group_id: c.groupId, usage_type, request_args_hash, count });

  describe('GET /v3/ocr-usage: what works', () => {
    test('grouped by usage_type per month: one record per period and type, other fields shared or ""', async () => {
      const res = await ocrUsage({ from_date: '2026-01-01T00:00:00.000Z', to_date: '2026-03-01T00:00:00.000Z', group_by: 'usage_type', timespan: 'month' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.ocr_usage, [
        R('2026-01-01T00:00:00.000Z', c.appId, 'image', H1, 5),
        R('2026-01-01T00:00:00.000Z', app2, 'pdf', '', 1),
        R('2026-02-01T00:00:00.000Z', c.appId, 'image', H2, 1),
      ]);
    });

    test('a field that varies within a record is ""', async () => {
      const res = await ocrUsage({ from_date: '2026-01-01T00:00:00Z', to_date: '2027-01-01T00:00:00Z', group_by: 'usage_type', timespan: 'year' });
      assert.deepEqual(res.body.ocr_usage, [
        R('2026-01-01T00:00:00.000Z', c.appId, 'image', '', 6),
        R('2026-01-01T00:00:00.000Z', app2, 'pdf', '', 1),
      ]);
      const byHash = await ocrUsage({ from_date: '2026-01-01T00:00:00Z', to_date: '2027-01-01T00:00:00Z', group_by: 'request_args_hash', timespan: 'year' });
      assert.deepEqual(byHash.body.ocr_usage.map((r: any) => [r.request_args_hash, r.app_id, r.usage_type, r.count]),
        [['', app2, 'pdf', 1], ...[[H1, c.appId, 'image', 5], [H2, c.appId, 'image', 1]].sort((a, b) => String(a[0]).localeCompare(String(b[0])))]);
    });

    test('grouped by app_id; only the caller\'s group is ever counted', async () => {
      const res = await ocrUsage({ from_date: '2026-01-01T00:00:00Z', to_date: '2026-02-01T00:00:00Z', group_by: 'app_id', timespan: 'month' });
      assert.deepEqual(res.body.ocr_usage, [R('2026-01-01T00:00:00.000Z', c.appId, 'image', H1, 5), R('2026-01-01T00:00:00.000Z', app2, 'pdf', '', 1)].sort((a, b) => a.app_id.localeCompare(b.app_id)));
      const theirs = await ocrUsage({ from_date: '2026-01-01T00:00:00Z', to_date: '2026-02-01T00:00:00Z', group_by: 'app_id' }, { 'x-api-key': other.key });
      assert.deepEqual(theirs.body.ocr_usage.map((r: any) => [r.group_id, r.count]), [[other.groupId, 100]]);
    });

    test('days without usage are left out; periods follow the tz parameter', async () => {
      const utc = await ocrUsage({ from_date: '2026-01-01T00:00:00Z', to_date: '2026-03-01T00:00:00Z', group_by: 'app_id', timespan: 'day' });
      assert.deepEqual(utc.body.ocr_usage.map((r: any) => [r.from_date, r.count]), [
        ['2026-01-10T00:00:00.000Z', 5], ['2026-01-20T00:00:00.000Z', 1], ['2026-02-03T00:00:00.000Z', 1],
      ]);
      const kolkata = await ocrUsage({ from_date: '2026-01-01T00:00:00Z', to_date: '2026-03-01T00:00:00Z', group_by: 'app_id', timespan: 'day', tz: 'Asia/Kolkata' });
      assert.deepEqual(kolkata.body.ocr_usage.map((r: any) => [r.from_date, r.count]), [
        ['2026-01-09T18:30:00.000Z', 5], ['2026-01-20T18:30:00.000Z', 1], ['2026-02-02T18:30:00.000Z', 1],
      ]);
    });

    test('hours in Asia/Kathmandu start at a quarter past the UTC hour', async () => {
      const params = { from_date: '2026-01-10T00:00:00Z', to_date: '2026-01-11T00:00:00Z', group_by: 'usage_type', timespan: 'hour' };
      const utc = await ocrUsage(params);
      assert.deepEqual(utc.body.ocr_usage.map((r: any) => [r.from_date, r.count]), [['2026-01-10T10:00:00.000Z', 5]]);
      const kathmandu = await ocrUsage({ ...params, tz: 'Asia/Kathmandu' });
      assert.deepEqual(kathmandu.body.ocr_usage.map((r: any) => [r.from_date, r.count]), [
        ['2026-01-10T09:15:00.000Z', 2], ['2026-01-10T10:15:00.000Z', 3],
      ]);
    });

    test('a first period that starts before from_date is labelled with from_date and counts from there', async () => {
      const res = await ocrUsage({ from_date: '2026-01-15T00:00:00Z', to_date: '2026-03-01T00:00:00Z', group_by: 'usage_type', timespan: 'month' });
      assert.deepEqual(res.body.ocr_usage.map((r: any) => [r.from_date, r.usage_type, r.count]), [
        ['2026-01-15T00:00:00.000Z', 'pdf', 1], ['2026-02-01T00:00:00.000Z', 'image', 1],
      ]);
    });

    test('defaults: the current billing month, by usage_type, per month', async () => {
      const res = await ocrUsage({});
      assert.deepEqual(res.body.ocr_usage, [R('2026-02-01T00:00:00.000Z', c.appId, 'image', H2, 1)]);
    });
  });

  describe('GET /v3/ocr-usage: what is refused', () => {
    const base = { from_date: '2026-01-01T00:00:00Z', to_date: '2026-02-01T00:00:00Z' };
    const cases: Array<[string, Record<string, string> | string, RegExp]> = [
      ['to_date before from_date', { from_date: '2026-02-01T00:00:00Z', to_date: '2026-01-01T00:00:00Z' }, /"to_date" .* must be after "from_date"/],
      ['a malformed date', { ...base, from_date: '2026-13-45' }, /"from_date" must be an ISO 8601 date-time/],
      ['an unknown group_by', { ...base, group_by: 'colour' }, /"group_by" must be one of: usage_type, request_args_hash, app_id/],
      ['an unknown timespan', { ...base, timespan: 'fortnight' }, /"timespan" must be one of: hour, day, week, month, year/],
      ['an unknown tz', { ...base, tz: 'Mars/Olympus' }, /"tz" must be an IANA time zone/],
      ['too many periods', { from_date: '2000-01-01T00:00:00Z', to_date: '2026-01-01T00:00:00Z', timespan: 'hour' }, /more than 10000 periods/],
      ['a date out of range', { ...base, to_date: '+275000-01-01T00:00:00Z' }, /between the years 1970 and 9999/],
      ['a repeated parameter', 'from_date=2026-01-01T00:00:00Z&from_date=2026-01-02T00:00:00Z', /"from_date" must be string/],
    ];
    for (const [name, params, message] of cases) {
      test(`${name}: 400 invalid_request naming the parameter`, async () => {
        const qs = typeof params === 'string' ? params : new URLSearchParams(params).toString();
        const res = await request(`${server.url}/v3/ocr-usage?${qs}`, { headers: { app_id: c.appId, app_key: c.key } });
        assert.equal(res.status, 400);
        assert.equal(res.body.error, 'invalid_request');
        assert.match(res.body.message, message);
      });
    }

    test('missing or wrong credentials: 401, before anything else is looked at', async () => {
      for (const headers of [{}, { 'x-api-key': 'tg_nope' }, { app_id: 'nope', app_key: c.key }, { app_id: c.appId }] as Array<Record<string, string>>) {
        const res = await request(`${server.url}/v3/ocr-usage?timespan=fortnight`, { headers });
        assert.equal(res.status, 401, JSON.stringify(headers));
        assert.equal(res.body.error, 'unauthorized');
        assert.ok(res.body.message.length > 0);
      }
    });
  });

  describe('GET /v1/usage', () => {
    test('the current billing period, with either credential style', async () => {
      for (const headers of [{ 'x-api-key': c.key }, { app_id: c.appId, app_key: c.key }] as Array<Record<string, string>>) {
        const res = await request(`${server.url}/v1/usage`, { headers: { 'content-type': 'application/json', ...headers } });
        assert.equal(res.status, 200);
        assert.equal(res.body.monthly_used, 1, 'February holds one unit');
        assert.equal(res.body.monthly_quota, 1000);
        assert.equal(res.body.rate_limit_per_minute, 1000);
      }
    });

    test('-1 where the plan is unlimited', async () => {
      const res = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': other.key } });
      assert.equal(res.body.monthly_quota, -1);
      assert.equal(res.body.rate_limit_per_minute, -1);
    });

    test('usage calls count against the per-minute limit, not the monthly quota', async () => {
      const tight = await setupCustomer(admin, { monthlyQuota: 1, ratePerMinute: 3 });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': tight.key } })).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const limited = await request(`${server.url}/v3/ocr-usage`, { headers: { 'x-api-key': tight.key } });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error, 'rate_limited');
      assert.match(limited.body.message, /Rate limit of 3 requests per minute exceeded\. Retry in \d+ seconds/);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      clock.advance(120_000);
      const check = await admin.post('/v1/check', { key: tight.key, usage_type: 'image' });
      assert.equal(check.body.allowed, true, 'the quota of 1 was untouched by the usage calls');
      clock.set(Date.parse('2026-02-10T00:00:00Z'));
    });
  });
});
