import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/clock.js';
import { ADMIN_TOKEN, adminClient, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  const clock = new ManualClock(Date.parse('2026-01-10T10:00:00Z'));
  const QUERY = 'from_date=2026-01-01T00%3A00%3A00.000Z&to_date=2026-02-01T00%3A00%3A00.000Z&timespan=day';
  const HEADER = 'from_date,app_id,group_id,usage_type,request_args_hash,count';
  let server: TestServer;
  let admin: AdminClient;
  let c: Awaited<ReturnType<typeof setupCustomer>>;

  async function usage(query: string, headers: Record<string, string> = {}, path = '/v3/ocr-usage') {
    const res = await fetch(`${server.url}${path}?${query}`, { headers: { 'x-api-key': c.key, ...headers } });
    return { status: res.status, type: res.headers.get('content-type'), vary: res.headers.get('vary'), text: await res.text() };
  }

  /** The CSV lines of records whose fields need no quoting. */
  function csvOf(records: Array<Record<string, unknown>>): string {
    return [HEADER, ...records.map((r) => [r.from_date, r.app_id, r.group_id, r.usage_type, r.request_args_hash, r.count].join(','))].map((l) => `${l}\r\n`).join('');
  }

  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
    c = await setupCustomer(admin, { monthlyQuota: 1000, ratePerMinute: 1000 });
    await admin.post('/v1/check', { key: c.key, usage_type: 'image', request_args: { lang: 'en, fr', note: 'say "hi"' } });
    await admin.post('/v1/check', { key: c.key, usage_type: 'pdf', cost: 4 });
    clock.set(Date.parse('2026-01-11T09:00:00Z'));
    await admin.post('/v1/check', { key: c.key, usage_type: 'pdf' });
  });
  after(async () => server.close());

  describe('GET /v3/ocr-usage as CSV', () => {
    test('format=csv: the same rows and fields as the JSON answer, under a header line', async () => {
      const json = JSON.parse((await usage(QUERY)).text) as { ocr_usage: Array<Record<string, unknown>> };
      assert.equal(json.ocr_usage.length, 3);
      const csv = await usage(`${QUERY}&format=csv`);
      assert.equal(csv.status, 200);
      assert.equal(csv.type, 'text/csv; charset=utf-8');
      assert.equal(csv.vary, 'accept');
      assert.equal(csv.text, csvOf(json.ocr_usage));
      assert.match(csv.text, /^2026-01-10T00:00:00\.000Z,[^,]+,[^,]+,image,[0-9a-f]{40},1\r$/m);
    });

    test('an Accept header that prefers text/csv gets CSV; format wins over Accept; a tie stays JSON', async () => {
      for (const [accept, csv] of [
        ['text/csv', true], ['text/csv, */*;q=0.1', true], ['application/json;q=0.5, text/*', true],
        ['*/*', false], ['application/json, text/csv', false], ['text/csv;q=0', false], ['text/html', false],
      ] as const) {
        const res = await usage(QUERY, { accept });
        assert.equal(res.status, 200, accept);
        assert.equal(res.type, csv ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8', accept);
      }
      assert.equal((await usage(`${QUERY}&format=json`, { accept: 'text/csv' })).type, 'application/json; charset=utf-8');
      assert.equal((await usage(`${QUERY}&format=csv`, { accept: 'application/json' })).type, 'text/csv; charset=utf-8');
    });

    test('no usage: the header line alone', async () => {
      const res = await usage('from_date=2025-01-01&to_date=2025-02-01&format=csv');
      assert.equal(res.text, `${HEADER}\r\n`);
    });

    test('errors stay JSON', async () => {
      for (const [query, headers, status] of [
        [`${QUERY}&format=csv&group_by=nothing`, {}, 400],
        ['format=csv&from_date=yesterday', {}, 400],
        ['format=xml', {}, 400],
        [QUERY, { accept: 'text/csv', 'x-api-key': 'tg_not-a-key' }, 401],
      ] as const) {
        const res = await usage(query, headers);
        assert.equal(res.status, status, query);
        assert.equal(res.type, 'application/json; charset=utf-8', query);
        assert.equal(JSON.parse(res.text).error, status === 400 ? 'invalid_request' : 'unauthorized');
      }
    });

    test("the admin API's usage query answers in CSV too", async () => {
      const res = await fetch(`${server.url}/admin/groups/${c.groupId}/usage?${QUERY}&format=csv`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
      assert.equal(await res.text(), (await usage(`${QUERY}&format=csv`)).text);
    });

    // scale-out: writes the odd row into the SQLite file itself (no API accepts one).
    if (store.name === 'embedded') test('a value holding a comma, quotes or a line break is quoted (RFC 4180)', async () => {
      // No API accepts such a usage type today; usage written by other means (an older
      // version, by hand) must still come out as valid CSV. It is put in the events table
      // while the server is stopped, and rolled up when it starts again.
      await server.close({ keepData: true });
      const db = new Database(join(server.dataDir, 'tollgate.db'));
      const seq = (db.prepare('SELECT MAX(seq) FROM events').pluck().get() as number) + 1;
      db.prepare('INSERT INTO events (seq, ts, group_id, app_id, key_id, usage_type, request_args_hash, count, received_at) VALUES (?, ?, ?, ?, NULL, ?, ?, 2, ?)')
        .run(seq, Date.parse('2026-01-12T08:00:00Z'), c.groupId, c.appId, 'scan, "beta"\nv2', '', Date.parse('2026-01-12T08:00:00Z'));
      db.close();
      server = await startTestServer({ store, clock, dataDir: server.dataDir });
      const res = await usage(`${QUERY}&format=csv`);
      assert.equal(res.status, 200);
      assert.ok(res.text.endsWith(`2026-01-12T00:00:00.000Z,${c.appId},${c.groupId},"scan, ""beta""\nv2",,2\r\n`), res.text);
      const json = JSON.parse((await usage(QUERY)).text) as { ocr_usage: Array<Record<string, unknown>> };
      assert.equal(json.ocr_usage.at(-1)!.usage_type, 'scan, "beta"\nv2');
    });
  });
});
