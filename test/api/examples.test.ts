import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requestArgsHash } from '../../src/domain/canonical-json.js';
import { Tollgate } from '../../src/client/index.js';
import * as checkInBackend from '../../examples/check-in-backend.js';
import * as embeddedMeter from '../../examples/embedded-meter.js';
import * as expressMeter from '../../examples/express-meter.js';
import * as fastifyMeter from '../../examples/fastify-meter.js';
import * as ingestBatch from '../../examples/ingest-batch.js';
import { ADMIN_TOKEN, request, startTestServer, type TestServer } from '../helpers/server.js';

// scale-out: the SDK examples' answers come through the SDK; the check, events and usage answers are compared on both stores in their own files.

let server: TestServer;
let tollgate: Tollgate;
/** The examples run with a service token, as a provider's backend would. */
let serviceToken: string;

before(async () => {
  server = await startTestServer();
  tollgate = new Tollgate({ baseUrl: server.url, token: ADMIN_TOKEN });
  serviceToken = (await tollgate.admin.serviceTokens.create({ name: 'examples' })).token;
});
after(async () => server.close());

let counter = 0;
async function customer(limits: { monthlyQuota?: number; rateLimitPerMinute?: number }) {
  counter += 1;
  const plan = await tollgate.admin.plans.create({ id: `example-plan-${counter}`, monthlyQuota: limits.monthlyQuota ?? -1, rateLimitPerMinute: limits.rateLimitPerMinute ?? -1 });
  const group = await tollgate.admin.groups.create({ name: 'Example customer', planId: plan.id });
  const app = await tollgate.admin.apps.create(group.id);
  const { key } = await tollgate.admin.keys.create(app.appId);
  return { key, appId: app.appId, groupId: group.id };
}

/** What the group used this month, by usage type, read with the admin API. */
async function usageByType(groupId: string): Promise<Record<string, number>> {
  return Object.fromEntries((await tollgate.admin.groups.usage(groupId)).map((r) => [r.usageType, r.count]));
}

const post = (url: string, headers: Record<string, string>, body: unknown = {}) => request(url, { method: 'POST', headers, body });

describe('examples', () => {
  test('check-in-backend: allowed calls are served and counted, retries with an Idempotency-Key are free, refusals pass through', async () => {
    const c = await customer({ rateLimitPerMinute: 2 });
    const backend = await checkInBackend.main({ tollgateUrl: server.url, token: serviceToken });
    try {
      const first = await post(`${backend.url}/v1/ocr`, { 'x-api-key': c.key, 'idempotency-key': 'upload-1' }, { src: 'a.png', formats: ['latex'] });
      assert.equal(first.status, 200);
      assert.deepEqual(first.body, { text: 'text of a.png', monthly_used: 1, replayed: false });
      assert.match(first.headers.get('ratelimit')!, /^"minute";r=1;t=\d+$/);
      const retried = await post(`${backend.url}/v1/ocr`, { 'x-api-key': c.key, 'idempotency-key': 'upload-1' }, { src: 'a.png', formats: ['latex'] });
      assert.deepEqual(retried.body, { text: 'text of a.png', monthly_used: 1, replayed: true });

      assert.equal((await post(`${backend.url}/v1/ocr`, { 'x-api-key': c.key }, { src: 'b.png' })).status, 200);
      const limited = await post(`${backend.url}/v1/ocr`, { 'x-api-key': c.key }, { src: 'c.png' });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error, 'rate_limited');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);

      const stranger = await post(`${backend.url}/v1/ocr`, { 'x-api-key': 'tg_wrong' }, {});
      assert.deepEqual([stranger.status, stranger.body], [401, { error: 'unauthorized', message: 'Invalid API key.' }]);

      const records = await tollgate.admin.groups.usage(c.groupId, { groupBy: 'request_args_hash' });
      assert.deepEqual(records.map((r) => [r.requestArgsHash, r.count]).sort(),
        [[requestArgsHash({ formats: ['latex'] }), 1], [requestArgsHash({ formats: ['text'] }), 1]].sort());
    } finally {
      await backend.close();
    }
  });

  test('fastify-meter: routes metered by usage type and pages, 429 quota_exceeded past the quota, 401 without a key', async () => {
    const c = await customer({ monthlyQuota: 5 });
    const api = await fastifyMeter.main({ tollgateUrl: server.url, token: serviceToken });
    try {
      const ocr = await post(`${api.url}/v1/ocr`, { 'x-api-key': c.key });
      assert.deepEqual([ocr.status, ocr.body], [200, { text: 'hello', monthly_used: 1 }]);
      assert.match(ocr.headers.get('ratelimit')!, /^"month";r=4;t=\d+$/);
      const pdf = await post(`${api.url}/v1/pdf`, { 'x-api-key': c.key }, { pages: 4, lang: 'de' });
      assert.deepEqual([pdf.status, pdf.body], [200, { pages: 4, monthly_used: 5 }]);
      const over = await post(`${api.url}/v1/ocr`, { 'x-api-key': c.key });
      assert.equal(over.status, 429);
      assert.equal(over.body.error, 'quota_exceeded');
      assert.ok(Number(over.headers.get('retry-after')) > 0);
      const anonymous = await post(`${api.url}/v1/ocr`, {});
      assert.deepEqual([anonymous.status, anonymous.body.error], [401, 'unauthorized']);
      assert.equal((await request(`${api.url}/healthz`)).status, 200);
      assert.deepEqual(await usageByType(c.groupId), { image: 1, pdf: 4 });
      assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, 5);
    } finally {
      await api.close();
    }
  });

  test('express-meter: the same API on Express, 429 rate_limited past the per-minute limit', async () => {
    const c = await customer({ rateLimitPerMinute: 4 });
    const api = await expressMeter.main({ tollgateUrl: server.url, token: serviceToken });
    try {
      const pdf = await post(`${api.url}/v1/pdf`, { app_id: c.appId, app_key: c.key }, { pages: 3 });
      assert.deepEqual([pdf.status, pdf.body], [200, { pages: 3, monthly_used: 3 }]);
      assert.equal((await post(`${api.url}/v1/ocr`, { 'x-api-key': c.key })).status, 200);
      const limited = await post(`${api.url}/v1/ocr`, { 'x-api-key': c.key });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error, 'rate_limited');
      assert.match(limited.body.message, /Rate limit of 4 units per minute/);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      const bad = await post(`${api.url}/v1/ocr`, { 'x-api-key': 'tg_wrong' });
      assert.deepEqual([bad.status, bad.body.error], [401, 'unauthorized']);
      assert.deepEqual(await usageByType(c.groupId), { image: 1, pdf: 3 });
    } finally {
      await api.close();
    }
  });

  test('ingest-batch: 250 jobs sent in batches of 100, every page counted once', async () => {
    const c = await customer({});
    const jobs = Array.from({ length: 250 }, (_, i) => ({ pages: 1 + (i % 10), lang: i % 2 ? 'en' : 'fr' }));
    const report = await ingestBatch.main({ tollgateUrl: server.url, token: serviceToken, appId: c.appId, jobs });
    assert.deepEqual(report, { accepted: 250, duplicates: 0, rejected: 0, failed: 0 });
    const pages = (lang: string) => jobs.filter((j) => j.lang === lang).reduce((sum, j) => sum + j.pages, 0);
    const records = await tollgate.usage.query({ key: c.key }, { groupBy: 'request_args_hash' });
    assert.deepEqual(Object.fromEntries(records.map((r) => [r.requestArgsHash, r.count])),
      { [requestArgsHash({ lang: 'en' })]: pages('en'), [requestArgsHash({ lang: 'fr' })]: pages('fr') });
    assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, pages('en') + pages('fr'));
  });

  test('embedded-meter: no server; the plan allows 10 a minute, the 11th call is refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-example-'));
    const api = await embeddedMeter.main({ dataDir });
    try {
      for (let i = 1; i <= 10; i += 1) {
        const ok = await post(`${api.url}/v1/ocr`, { 'x-api-key': api.key });
        assert.deepEqual([ok.status, ok.body.monthly_used], [200, i]);
      }
      const limited = await post(`${api.url}/v1/ocr`, { 'x-api-key': api.key });
      assert.deepEqual([limited.status, limited.body.error], [429, 'rate_limited']);
      assert.equal((await post(`${api.url}/v1/ocr`, { 'x-api-key': 'tg_wrong' })).status, 401);
    } finally {
      await api.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
