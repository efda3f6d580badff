import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { requestArgsHash } from '../../src/domain/canonical-json.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  const NOW = Date.parse('2026-03-15T12:00:00Z');
  const clock = new ManualClock(NOW);
  let server: TestServer;
  let admin: AdminClient;
  let c: Awaited<ReturnType<typeof setupCustomer>>;

  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
    c = await setupCustomer(admin, { monthlyQuota: 100 });
  });
  after(async () => server.close());

  const send = (body: unknown, contentType = 'application/json', token = ADMIN_TOKEN) =>
    request(`${server.url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  let n = 0;
  const id = () => `evt-${(n += 1)}-${Math.random().toString(36).slice(2, 8)}`;

  describe('POST /v1/events: what works', () => {
    test('each event gets a verdict; the good ones count, a repeated id counts once', async () => {
      const repeated = id();
      const res = await send([
        { id: repeated, app_id: c.appId, usage_type: 'pdf', count: 3 },
        { id: repeated, app_id: c.appId, usage_type: 'pdf', count: 3 },
        { id: id(), app_id: c.appId, usage_type: 'pdf', request_args: { lang: 'en' } },
      ]);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { accepted: 2, duplicates: 1, rejected: [] });
      const again = await send([{ id: repeated, app_id: c.appId, usage_type: 'pdf', count: 3 }]);
      assert.deepEqual(again.body, { accepted: 0, duplicates: 1, rejected: [] });
      const usage = await request(`${server.url}/v3/ocr-usage?group_by=request_args_hash`, { headers: { 'x-api-key': c.key } });
      assert.deepEqual(usage.body.ocr_usage.map((r: any) => [r.request_args_hash, r.count]).sort(),
        [['', 3], [requestArgsHash({ lang: 'en' }), 1]].sort());
    });

    test('late events land in their own past period and show in /v3/ocr-usage at once', async () => {
      const res = await send([{ id: id(), app_id: c.appId, usage_type: 'image-async', count: 7, timestamp: '2026-02-20T08:00:00Z' }]);
      assert.equal(res.body.accepted, 1);
      const feb = await request(`${server.url}/v3/ocr-usage?from_date=2026-02-01T00:00:00Z&to_date=2026-03-01T00:00:00Z&timespan=day`, { headers: { 'x-api-key': c.key } });
      assert.deepEqual(feb.body.ocr_usage.map((r: any) => [r.from_date, r.usage_type, r.count]), [['2026-02-20T00:00:00.000Z', 'image-async', 7]]);
    });

    test('ingested usage is never refused, but pushes the group over its quota for later checks', async () => {
      const tight = await setupCustomer(admin, { monthlyQuota: 5 });
      assert.equal((await admin.post('/v1/check', { key: tight.key, usage_type: 'image' })).body.allowed, true);
      assert.equal((await send([{ id: id(), app_id: tight.appId, usage_type: 'image', count: 10 }])).body.accepted, 1);
      const check = await admin.post('/v1/check', { key: tight.key, usage_type: 'image' });
      assert.equal(check.body.code, 'quota_exceeded');
      assert.equal(check.body.monthly_used, 11);
    });

    test('NDJSON: any length, line numbers in the verdicts, blank lines ignored', async () => {
      const lines = Array.from({ length: 12_000 }, (_, i) => JSON.stringify({ id: `nd-${i}`, app_id: c.appId, usage_type: 'stream' }));
      lines.splice(3, 0, '', 'not json', JSON.stringify({ id: 'nd-bad', app_id: c.appId, usage_type: 'stream', count: -1 }));
      const res = await send(`${lines.join('\n')}\n`, 'application/x-ndjson');
      assert.equal(res.status, 200);
      assert.equal(res.body.accepted, 12_000);
      assert.deepEqual(res.body.rejected.map((r: any) => [r.index, r.error]), [[4, 'invalid_event'], [5, 'invalid_count']]);
      assert.match(res.body.rejected[0].message, /Line 4 is not valid JSON/);
    });

    test('CloudEvents batches: type is the usage type, subject the app; dedup on source and id', async () => {
      const ce = (source: string, ceId: string) => ({ specversion: '1.0', id: ceId, source, type: 'ce-usage', subject: c.appId, time: '2026-03-15T11:00:00Z', data: { count: 2 } });
      const res = await send([ce('svc-a', 'one'), ce('svc-b', 'one'), ce('svc-a', 'one')], 'application/cloudevents-batch+json');
      assert.deepEqual(res.body, { accepted: 2, duplicates: 1, rejected: [] });
      const usage = await request(`${server.url}/v3/ocr-usage?timespan=month`, { headers: { 'x-api-key': c.key } });
      assert.equal(usage.body.ocr_usage.find((r: any) => r.usage_type === 'ce-usage').count, 4);
    });

    test('a "__proto__" key in an event is data, not a prototype', async () => {
      const args = '{"__proto__": {"polluted": true}}';
      const res = await send(`[{"id": "${id()}", "app_id": "${c.appId}", "usage_type": "proto-test", "request_args": ${args}}]`);
      assert.equal(res.body.accepted, 1);
      const usage = await request(`${server.url}/v3/ocr-usage?group_by=usage_type`, { headers: { 'x-api-key': c.key } });
      const record = usage.body.ocr_usage.find((r: any) => r.usage_type === 'proto-test');
      assert.equal(record.request_args_hash, requestArgsHash(JSON.parse(args)), 'hashed as an ordinary key');
      assert.notEqual(record.request_args_hash, requestArgsHash({}));
      const proto = await send(`{"__proto__": [1]}`);
      assert.equal(proto.status, 400);
    });

    test('a service token may send events', async () => {
      const token = (await admin.post('/admin/service-tokens', {})).body.token;
      assert.equal((await send([{ id: id(), app_id: c.appId, usage_type: 'pdf' }], 'application/json', token)).body.accepted, 1);
    });

    test('ids are remembered across a restart', async () => {
      const dataDir = server.dataDir;
      const remembered = id();
      assert.equal((await send([{ id: remembered, app_id: c.appId, usage_type: 'pdf' }])).body.accepted, 1);
      await server.close({ keepData: true });
      server = await startTestServer({ store, clock, dataDir });
      admin = adminClient(server.url);
      assert.deepEqual((await send([{ id: remembered, app_id: c.appId, usage_type: 'pdf' }])).body, { accepted: 0, duplicates: 1, rejected: [] });
    });
  });

  describe('POST /v1/events: what is refused, event by event', () => {
    test('every kind of bad event is named, and never blocks the good ones', async () => {
      const disabled = await setupCustomer(admin);
      await admin.patch(`/admin/apps/${disabled.appId}`, { disabled: true });
      const good = { id: id(), app_id: c.appId, usage_type: 'pdf' };
      const res = await send([
        { id: id(), app_id: 'no-such-app', usage_type: 'pdf' },
        { id: id(), app_id: disabled.appId, usage_type: 'pdf' },
        { id: id(), app_id: c.appId, usage_type: 'bad type!' },
        { id: id(), app_id: c.appId, usage_type: 'pdf', count: 0 },
        { id: id(), app_id: c.appId, usage_type: 'pdf', count: 1.5 },
        { id: id(), app_id: c.appId, usage_type: 'pdf', timestamp: 'yesterday' },
        { id: id(), app_id: c.appId, usage_type: 'pdf', timestamp: new Date(NOW + 6 * 60_000).toISOString() },
        { id: id(), app_id: c.appId, usage_type: 'pdf', timestamp: new Date(NOW - 36 * 86_400_000).toISOString() },
        { id: id(), app_id: c.appId, usage_type: 'pdf', request_args_hash: 'XYZ' },
        { id: id(), app_id: c.appId, usage_type: 'pdf', request_args: ['a'] },
        { app_id: c.appId, usage_type: 'pdf' },
        'not an object',
        good,
      ]);
      assert.equal(res.status, 200);
      assert.equal(res.body.accepted, 1);
      assert.deepEqual(res.body.rejected.map((r: any) => r.error), [
        'unknown_app', 'app_disabled', 'invalid_usage_type', 'invalid_count', 'invalid_count', 'invalid_timestamp',
        'timestamp_in_future', 'timestamp_too_old', 'invalid_request_args', 'invalid_request_args', 'invalid_event', 'invalid_event',
      ]);
      assert.deepEqual(res.body.rejected.map((r: any) => r.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      for (const r of res.body.rejected) assert.ok(r.message.length > 10, r.message);
      // The disabled app's keys stop working too.
      assert.equal((await admin.post('/v1/check', { key: disabled.key, usage_type: 'pdf' })).body.code, 'unauthorized');
    });

    test('NUL (U+0000), which PostgreSQL cannot store, in an id is refused, in an app id is an unknown app: alike on both stores', async () => {
      const res = await send([
        { id: `${id()}\u0000x`, app_id: c.appId, usage_type: 'pdf' },
        { id: id(), app_id: `${c.appId}\u0000`, usage_type: 'pdf' },
        { id: id(), app_id: c.appId, usage_type: 'nul-free' },
      ]);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.accepted, 1);
      assert.deepEqual(res.body.rejected.map((r: any) => [r.index, r.error]), [[0, 'invalid_event'], [1, 'unknown_app']]);
      assert.equal(res.body.rejected[0].message, '"id" must not contain the NUL character (U+0000).');
    });
  });

  describe('POST /v1/events: what is refused as a whole', () => {
    test('not an array, too many events, wrong content type, no token', async () => {
      const notArray = await send({ id: 'x' });
      assert.equal(notArray.status, 400);
      assert.match(notArray.body.message, /must be a JSON array/);
      const tooMany = await send(Array.from({ length: 10_001 }, (_, i) => ({ id: `m${i}`, app_id: c.appId, usage_type: 'pdf' })));
      assert.equal(tooMany.status, 400);
      assert.match(tooMany.body.message, /at most 10000 events.*application\/x-ndjson/);
      assert.equal((await send('hello', 'text/plain')).status, 415);
      const noToken = await request(`${server.url}/v1/events`, { method: 'POST', body: [] });
      assert.equal(noToken.status, 401);
      assert.equal(noToken.body.error, 'unauthorized');
    });
  });
});
