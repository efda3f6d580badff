import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import express, { type Request } from 'express';
import Fastify from 'fastify';
import { requestArgsHash } from '../../src/domain/canonical-json.js';
import { EmbeddedTollgate } from '../../src/client/embedded.js';
import {
  MeterSetupError, Tollgate, tollgateMeter, tollgateMiddleware, type AdminApi, type MeterableRequest, type MeterOptions, type UsageApi,
} from '../../src/client/index.js';
import { ADMIN_TOKEN, request, startTestServer, type TestServer } from '../helpers/server.js';

// scale-out: the plugins meet Tollgate through the SDK and the embedded SDK (SQLite by nature); the answers they relay are compared on both stores in check.test.ts.

type Source = MeterOptions<never>['tollgate'];
interface Pdf { pages: number; lang: string }

/** A provider's API with three routes: /ocr (1 unit, "image"), /pdf (a unit per page, "pdf"), /health (not metered). */
interface Provider {
  url: string;
  /** The routes whose handler ran, in order. */
  served: string[];
  /** Errors that reached the app's error handler (answered 500). */
  errors: unknown[];
  close(): Promise<void>;
}

async function fastifyProvider(tollgate: Source, extra: { failOpen?: boolean; cost?: number } = {}): Promise<Provider> {
  const served: string[] = [];
  const errors: unknown[] = [];
  const app = Fastify();
  app.setErrorHandler(async (error, _req, reply) => {
    errors.push(error);
    return reply.code(500).send({ error: 'internal_error', message: 'Something went wrong.' });
  });
  await app.register(tollgateMeter, { usageType: 'image', tollgate, ...extra });
  app.post('/ocr', async (req) => {
    served.push('ocr');
    return { used: req.tollgate?.monthlyUsed ?? null };
  });
  app.post('/pdf', {
    config: { tollgate: { usageType: 'pdf', cost: (req) => (req.body as Pdf).pages, requestArgs: (req) => ({ lang: (req.body as Pdf).lang }) } },
  }, async (req) => {
    served.push('pdf');
    return { used: req.tollgate?.monthlyUsed ?? null };
  });
  app.get('/health', { config: { tollgate: false } }, async () => {
    served.push('health');
    return { status: 'ok' };
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, served, errors, close: () => app.close() };
}

async function expressProvider(tollgate: Source, extra: { failOpen?: boolean; cost?: number } = {}): Promise<Provider> {
  const served: string[] = [];
  const app = express();
  app.use(express.json());
  const ocr = tollgateMiddleware({ usageType: 'image', tollgate, ...extra });
  const pdf = tollgateMiddleware<Request>({ usageType: 'pdf', cost: (req) => req.body.pages, requestArgs: (req) => ({ lang: req.body.lang }), tollgate, ...extra });
  const answer = (route: string) => (req: Request, res: express.Response) => {
    served.push(route);
    res.json({ used: (req as MeterableRequest).tollgate?.monthlyUsed ?? null });
  };
  app.post('/ocr', ocr, answer('ocr'));
  app.post('/pdf', pdf, answer('pdf'));
  app.get('/health', (_req, res) => {
    served.push('health');
    res.json({ status: 'ok' });
  });
  const errors: unknown[] = [];
  app.use((error: unknown, _req: Request, res: express.Response, _next: express.NextFunction) => {
    errors.push(error);
    res.status(500).json({ error: 'internal_error', message: 'Something went wrong.' });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    errors,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all([ocr.close(), pdf.close()]);
    },
  };
}

const FRAMEWORKS = { fastify: fastifyProvider, express: expressProvider };

/** Where the metering happens, and the admin and usage APIs to set it up and read it. */
interface Backend {
  source: Source;
  admin: AdminApi;
  usage: UsageApi;
  close(): Promise<void>;
}

const MODES: Record<string, () => Promise<Backend>> = {
  async remote() {
    const server = await startTestServer();
    const admin = new Tollgate({ baseUrl: server.url, token: ADMIN_TOKEN });
    const { token } = await admin.admin.serviceTokens.create({ name: 'provider' });
    return { source: new Tollgate({ baseUrl: server.url, token }), admin: admin.admin, usage: admin.usage, close: () => server.close() };
  },
  async embedded() {
    const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-embedded-'));
    // The test's own handle shares the store the plugins open on the same directory.
    const handle = await EmbeddedTollgate.open({ dataDir });
    return {
      source: { embedded: { dataDir } }, admin: handle.admin, usage: handle.usage,
      close: async () => {
        await handle.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};

let counter = 0;
async function customer(admin: AdminApi, limits: { monthlyQuota?: number; rateLimitPerMinute?: number } = {}) {
  counter += 1;
  const plan = await admin.plans.create({ id: `plan-${counter}`, monthlyQuota: limits.monthlyQuota ?? -1, rateLimitPerMinute: limits.rateLimitPerMinute ?? -1 });
  const group = await admin.groups.create({ id: `group-${counter}`, name: 'Customer', planId: plan.id });
  const app = await admin.apps.create(group.id, { id: `app-${counter}` });
  const { key } = await admin.keys.create(app.appId);
  return { key, appId: app.appId, groupId: group.id };
}

/** Units the group used this month, read with the admin API (a customer's own usage query counts against their per-minute limit). */
async function used(admin: AdminApi, groupId: string): Promise<number> {
  return (await admin.groups.usage(groupId)).reduce((sum, r) => sum + r.count, 0);
}

const post = (url: string, headers: Record<string, string>, body: unknown = {}) => request(url, { method: 'POST', headers, body });

for (const [mode, startBackend] of Object.entries(MODES)) {
  for (const [framework, startProvider] of Object.entries(FRAMEWORKS)) {
    describe(`${framework}, ${mode} Tollgate`, () => {
      let backend: Backend;
      let provider: Provider;
      before(async () => {
        backend = await startBackend();
        provider = await startProvider(backend.source);
      });
      after(async () => {
        await provider.close();
        await backend.close();
      });

      test('an allowed call runs the route, is counted, and carries the RateLimit headers', async () => {
        const c = await customer(backend.admin, { monthlyQuota: 100, rateLimitPerMinute: 50 });
        const res = await post(`${provider.url}/ocr`, { 'x-api-key': c.key });
        assert.equal(res.status, 200);
        assert.deepEqual(res.body, { used: 1 });
        assert.match(res.headers.get('ratelimit')!, /^"minute";r=49;t=\d+, "month";r=99;t=\d+$/);
        assert.match(res.headers.get('ratelimit-policy')!, /^"minute";q=50;w=60, "month";q=100;w=\d+$/);
        const byApp = await post(`${provider.url}/ocr`, { app_id: c.appId, app_key: c.key });
        assert.deepEqual([byApp.status, byApp.body], [200, { used: 2 }]);
        assert.equal((await backend.usage.current({ key: c.key })).monthlyUsed, 2);
      });

      test('no key or a bad key: 401 unauthorized, and the route does not run', async () => {
        const before = provider.served.length;
        const none = await post(`${provider.url}/ocr`, {});
        assert.equal(none.status, 401);
        assert.deepEqual(none.body, { error: 'unauthorized', message: 'Missing API key: send it in the x-api-key header, or send the app_id and app_key headers.' });
        const bad = await post(`${provider.url}/ocr`, { 'x-api-key': 'tg_not-a-key' });
        assert.equal(bad.status, 401);
        assert.deepEqual(bad.body, { error: 'unauthorized', message: 'Invalid API key.' });
        const c = await customer(backend.admin);
        const wrongApp = await post(`${provider.url}/ocr`, { app_id: 'another-app', app_key: c.key });
        assert.deepEqual([wrongApp.status, wrongApp.body.error], [401, 'unauthorized']);
        assert.equal(provider.served.length, before);
      });

      test('over the per-minute limit: 429 rate_limited with Retry-After, nothing counted', async () => {
        const c = await customer(backend.admin, { rateLimitPerMinute: 2 });
        for (let i = 0; i < 2; i += 1) assert.equal((await post(`${provider.url}/ocr`, { 'x-api-key': c.key })).status, 200);
        const served = provider.served.length;
        const res = await post(`${provider.url}/ocr`, { 'x-api-key': c.key });
        assert.equal(res.status, 429);
        assert.equal(res.body.error, 'rate_limited');
        assert.match(res.body.message, /^Rate limit of 2 units per minute for group "group-\d+" exceeded\. Retry in \d+ seconds\.$/);
        assert.deepEqual(Object.keys(res.body).sort(), ['error', 'limit', 'message'], "the seed's error shape, and the refusing limit's name");
        assert.equal(res.body.limit, 'minute');
        const retry = Number(res.headers.get('retry-after'));
        assert.ok(retry > 0 && retry <= 120, `Retry-After ${retry}`);
        assert.equal(provider.served.length, served);
        assert.equal(await used(backend.admin, c.groupId), 2);
      });

      test('over the monthly quota: 429 quota_exceeded with Retry-After until the month ends', async () => {
        const c = await customer(backend.admin, { monthlyQuota: 1 });
        assert.equal((await post(`${provider.url}/ocr`, { 'x-api-key': c.key })).status, 200);
        const res = await post(`${provider.url}/ocr`, { 'x-api-key': c.key });
        assert.equal(res.status, 429);
        assert.equal(res.body.error, 'quota_exceeded');
        assert.match(res.body.message, /^Monthly quota of 1 units for group "group-\d+" exceeded; it resets at /);
        const { periodEnd } = await backend.usage.current({ key: c.key });
        const untilEnd = (Date.parse(periodEnd) - Date.now()) / 1000;
        assert.ok(Math.abs(Number(res.headers.get('retry-after')) - untilEnd) < 5, 'Retry-After is the end of the billing month');
      });

      test('a named limit refuses with 429 and its name; a balance that cannot cover the call with 402 insufficient_credits and no Retry-After', async () => {
        counter += 1;
        const plan = await backend.admin.plans.create({
          id: `plan-${counter}`, monthlyQuota: -1, rateLimitPerMinute: -1,
          limits: [{ name: 'pages-day', usageTypes: ['pdf'], window: 'day', units: 10, scope: 'group' }],
          credits: { perUnit: { image: 2, pdf: 1 } },
        });
        const group = await backend.admin.groups.create({ id: `group-${counter}`, name: 'Customer', planId: plan.id });
        const app = await backend.admin.apps.create(group.id, { id: `app-${counter}` });
        const { key } = await backend.admin.keys.create(app.appId);
        await backend.admin.grants.create(group.id, { amount: 13 });

        const pages = await post(`${provider.url}/pdf`, { 'x-api-key': key }, { pages: 11, lang: 'en' });
        assert.equal(pages.status, 429);
        assert.deepEqual([pages.body.error, pages.body.limit], ['rate_limited', 'pages-day'], 'a day is a sliding window');
        assert.match(pages.body.message, /"pages-day"/);

        assert.equal((await post(`${provider.url}/pdf`, { 'x-api-key': key }, { pages: 10, lang: 'en' })).status, 200, '10 pages: 10 credits, 3 left');
        assert.equal((await post(`${provider.url}/ocr`, { 'x-api-key': key })).status, 200, 'an image: 2 credits, 1 left');
        const served = provider.served.length;
        const broke = await post(`${provider.url}/ocr`, { 'x-api-key': key });
        assert.equal(broke.status, 402);
        assert.deepEqual([broke.body.error, broke.body.limit], ['insufficient_credits', 'credits']);
        assert.equal(broke.headers.get('retry-after'), null, 'waiting brings no credits');
        assert.equal(provider.served.length, served, 'the route did not run');
        assert.equal((await backend.admin.grants.list(group.id)).balance, 1, 'the refused call took nothing');
      });

      test("a route's cost and request arguments come from the request; an unmetered route needs no key", async () => {
        const c = await customer(backend.admin);
        const res = await post(`${provider.url}/pdf`, { 'x-api-key': c.key }, { pages: 7, lang: 'en' });
        assert.deepEqual([res.status, res.body], [200, { used: 7 }]);
        const records = await backend.usage.query({ key: c.key }, { groupBy: 'request_args_hash' });
        assert.deepEqual(records.map((r) => [r.usageType, r.requestArgsHash, r.count]), [['pdf', requestArgsHash({ lang: 'en' }), 7]]);
        const health = await request(`${provider.url}/health`);
        assert.deepEqual([health.status, health.body], [200, { status: 'ok' }]);
        assert.equal(health.headers.get('ratelimit'), null);
      });
    });
  }
}

describe('when Tollgate cannot answer, or the route is set up wrong', () => {
  let server: TestServer;
  let tollgate: Tollgate;
  before(async () => {
    server = await startTestServer();
    tollgate = new Tollgate({ baseUrl: server.url, token: ADMIN_TOKEN });
  });
  after(async () => server.close());

  for (const [framework, startProvider] of Object.entries(FRAMEWORKS)) {
    test(`${framework}: unreachable Tollgate gives 503 unavailable, or lets the call through with failOpen`, async () => {
      const nowhere = new Tollgate({ baseUrl: 'http://127.0.0.1:9', token: 't', retries: 0 });
      const closed = await startProvider(nowhere);
      const open = await startProvider(nowhere, { failOpen: true });
      try {
        const refused = await post(`${closed.url}/ocr`, { 'x-api-key': 'tg_any' });
        assert.equal(refused.status, 503);
        assert.equal(refused.body.error, 'unavailable');
        assert.deepEqual(closed.served, []);
        const through = await post(`${open.url}/ocr`, { 'x-api-key': 'tg_any' });
        assert.deepEqual([through.status, through.body], [200, { used: null }]);
      } finally {
        await closed.close();
        await open.close();
      }
    });

    test(`${framework}: a cost Tollgate refuses is the provider's error (500), never the customer's 401 or 429`, async () => {
      const c = await customer(tollgate.admin);
      const provider = await startProvider(tollgate, { cost: 0 });
      try {
        const res = await post(`${provider.url}/ocr`, { 'x-api-key': c.key });
        assert.equal(res.status, 500);
        assert.ok(provider.errors[0] instanceof MeterSetupError);
        assert.match((provider.errors[0] as Error).message, /invalid_request: body field "cost" must be >= 1/);
        assert.deepEqual(provider.served, []);
        assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, 0);
      } finally {
        await provider.close();
      }
    });
  }

  test('fastify: the plugin meters the encapsulated context it is registered in, and not unknown routes', async () => {
    const c = await customer(tollgate.admin);
    const app = Fastify();
    app.get('/public', async () => ({ open: true }));
    await app.register(async (paid) => {
      await paid.register(tollgateMeter, { usageType: 'image', cost: 3, tollgate });
      paid.post('/paid/ocr', async () => ({ ok: true }));
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      assert.equal((await request(`${url}/public`)).status, 200, 'outside the context: no key needed');
      assert.equal((await post(`${url}/paid/ocr`, {})).status, 401);
      assert.equal((await post(`${url}/paid/ocr`, { 'x-api-key': c.key })).status, 200);
      assert.equal((await post(`${url}/paid/nothing-here`, { 'x-api-key': c.key })).status, 404);
      assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, 3, 'one call of cost 3; the 404 was not counted');
    } finally {
      await app.close();
    }
  });
});

describe('embedded mode and tollgate serve share the data directory', () => {
  test('a directory metered embedded is served with the same answers, and the counts carry over', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-shared-'));
    const embedded = await EmbeddedTollgate.open({ dataDir });
    const c = await customer(embedded.admin, { monthlyQuota: 10, rateLimitPerMinute: 5 });
    const local = await embedded.check({ key: c.key, usageType: 'image', requestArgs: { a: 1 } });
    const invalid = await embedded.check({ key: c.key, usageType: 'no spaces' }).catch((e: unknown) => e);
    assert.deepEqual([(invalid as { status?: number }).status, (invalid as { code?: string }).code], [400, 'invalid_request']);
    await embedded.close();

    const server = await startTestServer({ dataDir });
    try {
      const remote = await new Tollgate({ baseUrl: server.url, token: ADMIN_TOKEN }).check({ key: c.key, usageType: 'image', requestArgs: { a: 1 } });
      assert.deepEqual(Object.keys(remote).sort(), Object.keys(local).sort());
      assert.deepEqual(Object.keys(remote.headers).sort(), Object.keys(local.headers).sort());
      assert.deepEqual([local.monthlyUsed, remote.monthlyUsed], [1, 2]);
      const same = ({ allowed, code, message, groupId, appId, keyId, monthlyQuota, period, requestArgsHash, retryAfter, replayed }: typeof local) =>
        ({ allowed, code, message, groupId, appId, keyId, monthlyQuota, period, requestArgsHash, retryAfter, replayed });
      assert.deepEqual(same(remote), same(local));
    } finally {
      await server.close();
    }
  });
});
