import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { requestArgsHash } from '../../src/domain/canonical-json.js';
import { Tollgate, TollgateError, type FetchLike } from '../../src/client/index.js';
import { backoffDelay, parseRetryAfter } from '../../src/client/retry.js';
import { ManualClock } from '../../src/clock.js';
import { ManualScheduler } from '../../src/scheduler.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  let server: TestServer;
  let tollgate: Tollgate;

  before(async () => {
    server = await startTestServer({ store });
    tollgate = new Tollgate({ baseUrl: server.url, token: ADMIN_TOKEN });
  });
  after(async () => server.close());

  const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

  /** A plan, a group, an app and a key, made with the SDK's admin API. */
  async function customer(limits: { monthlyQuota?: number; rateLimitPerMinute?: number } = {}) {
    const plan = await tollgate.admin.plans.create({ id: unique('plan'), monthlyQuota: limits.monthlyQuota ?? -1, rateLimitPerMinute: limits.rateLimitPerMinute ?? -1 });
    const group = await tollgate.admin.groups.create({ name: 'Acme', planId: plan.id });
    const app = await tollgate.admin.apps.create(group.id, { id: unique('app') });
    const key = await tollgate.admin.keys.create(app.appId, { name: 'test' });
    return { plan, group, appId: app.appId, key: key.key, keyId: key.keyId };
  }

  interface Fake {
    url: string;
    requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
    close(): Promise<void>;
  }

  /** A tiny HTTP server whose n-th answer (from 0) is `answer(n, request, body, response)`. */
  async function fakeServer(answer: (n: number, req: IncomingMessage, body: string, res: ServerResponse) => void | Promise<void>): Promise<Fake> {
    const requests: Fake['requests'] = [];
    const http = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      await answer(requests.length - 1, req, body, res);
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    return {
      url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
      requests,
      close: () => {
        http.closeAllConnections();
        return new Promise((resolve) => http.close(() => resolve()));
      },
    };
  }

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  /** A Tollgate check answer, as the fake servers send it. */
  const ALLOWED = {
    allowed: true, code: 'ok', message: 'Allowed.', group_id: 'g', app_id: 'a', key_id: 'k', monthly_used: 1, monthly_quota: -1,
    rate_limit: { limit: -1, remaining: -1, reset: 0 }, app: { monthly_used: 1, monthly_quota: -1, rate_limit_per_minute: -1 },
    period: { from_date: '2026-01-01T00:00:00.000Z', to_date: '2026-02-01T00:00:00.000Z' }, retry_after: null, request_args_hash: '', replayed: false,
  };

  const fast = { backoff: { baseDelayMs: 10, maxDelayMs: 2_000 } };

  async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  describe('admin API through the client', () => {
    test('plans, groups, apps, keys and service tokens: create, get, list, update, revoke, in camelCase', async () => {
      const plan = await tollgate.admin.plans.create({ id: unique('pro'), monthlyQuota: 10_000, rateLimitPerMinute: 200, pricePerCall: '0.002', timeZone: 'Asia/Kolkata' });
      assert.equal(plan.timeZone, 'Asia/Kolkata');
      assert.equal(plan.pricePerCall, '0.002');
      assert.deepEqual(await tollgate.admin.plans.get(plan.id), plan);
      const changed = await tollgate.admin.plans.update(plan.id, { monthlyQuota: 20_000, pricePerCall: null });
      assert.equal(changed.monthlyQuota, 20_000);
      assert.equal(changed.pricePerCall, null);

      const group = await tollgate.admin.groups.create({ name: 'Acme Corp', planId: plan.id });
      assert.match(group.id, /^grp_/);
      assert.equal((await tollgate.admin.groups.update(group.id, { name: 'Acme Inc' })).name, 'Acme Inc');
      assert.equal((await tollgate.admin.groups.get(group.id)).planId, plan.id);

      const app = await tollgate.admin.apps.create(group.id, { id: unique('ocr'), monthlyQuota: 500 });
      assert.deepEqual([app.groupId, app.monthlyQuota, app.rateLimitPerMinute, app.disabledAt], [group.id, 500, null, null]);
      await tollgate.admin.apps.create(group.id, {});
      const apps = await tollgate.admin.apps.list({ groupId: group.id, limit: 1 });
      assert.equal(apps.items.length, 1);
      assert.notEqual(apps.next, null, 'a second page');
      const rest = await tollgate.admin.apps.list({ groupId: group.id, after: apps.next! });
      assert.equal(rest.items.length, 1);
      assert.equal(rest.next, null);
      const disabled = await tollgate.admin.apps.update(app.appId, { monthlyQuota: null, disabled: true });
      assert.equal(disabled.monthlyQuota, null);
      assert.notEqual(disabled.disabledAt, null);
      await tollgate.admin.apps.update(app.appId, { disabled: false });

      const expiresAt = new Date(Date.now() + 86_400_000);
      const key = await tollgate.admin.keys.create(app.appId, { name: 'production', expiresAt });
      assert.match(key.key, /^tg_/);
      assert.equal(key.expiresAt, expiresAt.toISOString());
      const shown = await tollgate.admin.keys.get(key.keyId);
      assert.equal((shown as { key?: string }).key, undefined, 'the secret is shown at creation only');
      assert.deepEqual((await tollgate.admin.keys.list({ appId: app.appId })).items.map((k) => k.keyId), [key.keyId]);
      const revoked = await tollgate.admin.keys.revoke(key.keyId);
      assert.notEqual(revoked.revokedAt, null);
      assert.equal((await tollgate.check({ key: key.key, usageType: 'image' })).code, 'unauthorized');

      const token = await tollgate.admin.serviceTokens.create({ name: 'backend' });
      assert.match(token.token, /^tgs_/);
      assert.ok((await tollgate.admin.serviceTokens.list({ limit: 1000 })).items.some((t) => t.tokenId === token.tokenId));
      assert.notEqual((await tollgate.admin.serviceTokens.revoke(token.tokenId)).revokedAt, null);
    });

    test('named limits, overrides and credits in camelCase, limit names and usage types as given', async () => {
      const plan = await tollgate.admin.plans.create({
        id: unique('llm'), monthlyQuota: -1, rateLimitPerMinute: -1,
        limits: [{ name: 'tokens_minute', usageTypes: ['llm_chat'], window: 'minute', units: 90_000, scope: 'app' }],
        credits: { perUnit: { llm_chat: 2, '*': 1 }, grantEveryPeriod: { amount: 100, rollover: 'all' } },
      });
      assert.deepEqual(plan.limits, [{ name: 'tokens_minute', usageTypes: ['llm_chat'], window: 'minute', units: 90_000, scope: 'app' }]);
      assert.deepEqual(plan.credits, { perUnit: { llm_chat: 2, '*': 1 }, grantEveryPeriod: { amount: 100, rollover: 'all' } }, 'usage types are not camelCased');
      const group = await tollgate.admin.groups.create({ name: 'Big', planId: plan.id, limitOverrides: { tokens_minute: 200_000 } });
      assert.deepEqual(group.limitOverrides, { tokens_minute: 200_000 }, 'limit names are not camelCased');
      const app = await tollgate.admin.apps.create(group.id, { limits: [{ name: 'chatBurst', window: 'second', units: 5, scope: 'key' }] });
      const changed = await tollgate.admin.apps.update(app.appId, { limitOverrides: { chatBurst: null, tokens_minute: 1 } });
      assert.deepEqual(changed.limitOverrides, { chatBurst: null, tokens_minute: 1 });
      assert.deepEqual((await tollgate.admin.apps.get(app.appId)).limits.map((l) => l.name), ['chatBurst']);
    });

    test('refusals are TollgateErrors with the status, code and message of the answer', async () => {
      const missing = await tollgate.admin.plans.get('no-such-plan').catch((e: unknown) => e);
      assert.ok(missing instanceof TollgateError);
      assert.deepEqual([missing.status, missing.code, missing.message], [404, 'not_found', 'No plan with id "no-such-plan".']);

      const { plan } = await customer();
      const taken = await tollgate.admin.plans.create({ id: plan.id, monthlyQuota: 1, rateLimitPerMinute: 1 }).catch((e: unknown) => e);
      assert.ok(taken instanceof TollgateError);
      assert.deepEqual([taken.status, taken.code], [409, 'conflict']);

      const bad = await tollgate.admin.plans.create({ id: unique('p'), monthlyQuota: 1, rateLimitPerMinute: 1, timeZone: 'Mars/Olympus' }).catch((e: unknown) => e);
      assert.ok(bad instanceof TollgateError);
      assert.deepEqual([bad.status, bad.code], [400, 'invalid_request']);
      assert.match(bad.message, /time_zone/);

      const stranger = new Tollgate({ baseUrl: server.url, token: 'not-the-admin-token' });
      const denied = await stranger.admin.plans.list().catch((e: unknown) => e);
      assert.ok(denied instanceof TollgateError);
      assert.deepEqual([denied.status, denied.code], [401, 'unauthorized']);
    });
  });

  describe('check through the client', () => {
    test('allowed: the answer in camelCase, with the RateLimit headers', async () => {
      const c = await customer({ monthlyQuota: 100, rateLimitPerMinute: 10 });
      const result = await tollgate.check({ key: c.key, usageType: 'image', cost: 3, requestArgs: { b: 1, a: [true] } });
      assert.equal(result.allowed, true);
      assert.equal(result.code, 'ok');
      assert.deepEqual([result.groupId, result.appId, result.keyId], [c.group.id, c.appId, c.keyId]);
      assert.deepEqual([result.monthlyUsed, result.monthlyQuota], [3, 100]);
      assert.equal(result.rateLimit?.limit, 10);
      assert.equal(result.rateLimit?.remaining, 7);
      assert.deepEqual(result.app, { monthlyUsed: 3, monthlyQuota: -1, rateLimitPerMinute: -1 });
      assert.match(result.period!.fromDate, /^\d{4}-\d{2}-01T00:00:00\.000Z$/);
      assert.equal(result.requestArgsHash, requestArgsHash({ a: [true], b: 1 }));
      assert.equal(result.retryAfter, null);
      assert.match(result.headers['ratelimit-policy']!, /^"minute";q=10;w=60, "month";q=100;w=\d+$/);
      assert.match(result.headers.ratelimit!, /^"minute";r=7;t=\d+, "month";r=97;t=\d+$/);
      assert.equal(result.headers['retry-after'], undefined);
    });

    test('app credentials, idempotency keys, and refusals as answers', async () => {
      const c = await customer({ rateLimitPerMinute: 2 });
      const first = await tollgate.check({ appId: c.appId, appKey: c.key, usageType: 'pdf', idempotencyKey: 'job-1' });
      const again = await tollgate.check({ appId: c.appId, appKey: c.key, usageType: 'pdf', idempotencyKey: 'job-1' });
      assert.deepEqual([first.allowed, first.replayed, again.replayed, again.monthlyUsed], [true, false, true, 1]);
      await tollgate.check({ key: c.key, usageType: 'pdf' });
      const refused = await tollgate.check({ key: c.key, usageType: 'pdf' });
      assert.deepEqual([refused.allowed, refused.code], [false, 'rate_limited']);
      assert.ok(refused.retryAfter! > 0);
      assert.equal(refused.headers['retry-after'], String(refused.retryAfter));
      const stranger = await tollgate.check({ key: 'tg_unknown', usageType: 'pdf' });
      assert.deepEqual([stranger.allowed, stranger.code, stranger.message, stranger.groupId], [false, 'unauthorized', 'Invalid API key.', null]);
    });

    test('a service token may check and send events, and nothing else', async () => {
      const c = await customer();
      const { token } = await tollgate.admin.serviceTokens.create({ name: 'backend' });
      const backend = new Tollgate({ baseUrl: server.url, token });
      assert.equal((await backend.check({ key: c.key, usageType: 'image' })).allowed, true);
      assert.equal((await backend.events.send([{ appId: c.appId, usageType: 'image' }])).accepted, 1);
      const admin = await backend.admin.plans.list().catch((e: unknown) => e);
      assert.ok(admin instanceof TollgateError && admin.status === 401);
    });
  });

  describe('usage queries through the client', () => {
    test('current usage and usage over time, with either kind of credentials', async () => {
      const c = await customer({ monthlyQuota: 1000, rateLimitPerMinute: 600 });
      await tollgate.check({ key: c.key, usageType: 'image', requestArgs: { x: 1 } });
      await tollgate.check({ key: c.key, usageType: 'image', requestArgs: { x: 1 }, cost: 4 });
      await tollgate.check({ key: c.key, usageType: 'pdf' });

      const current = await tollgate.usage.current({ key: c.key });
      assert.deepEqual([current.monthlyUsed, current.monthlyQuota, current.rateLimitPerMinute], [6, 1000, 600]);
      assert.ok(Date.parse(current.periodStart) <= Date.now() && Date.now() < Date.parse(current.periodEnd));

      const now = new Date();
      const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      const records = await tollgate.usage.query({ appId: c.appId, appKey: c.key }, { from, to: new Date(Date.now() + 3_600_000), groupBy: 'usage_type', timespan: 'month', tz: 'UTC' });
      assert.deepEqual(records, [
        { fromDate: from.toISOString(), appId: c.appId, groupId: c.group.id, usageType: 'image', requestArgsHash: requestArgsHash({ x: 1 }), count: 5 },
        { fromDate: from.toISOString(), appId: c.appId, groupId: c.group.id, usageType: 'pdf', requestArgsHash: '', count: 1 },
      ]);
      const byApp = await tollgate.admin.groups.usage(c.group.id, { groupBy: 'app_id', tz: 'UTC' });
      assert.deepEqual(byApp.map((r) => [r.appId, r.count]), [[c.appId, 6]]);

      const wrong = await tollgate.usage.current({ key: 'tg_nobody' }).catch((e: unknown) => e);
      assert.ok(wrong instanceof TollgateError);
      assert.deepEqual([wrong.status, wrong.code], [401, 'unauthorized']);
    });
  });

  describe('events through the client', () => {
    test('send assigns ids, counts each once, and reports refused events by index', async () => {
      const c = await customer();
      const report = await tollgate.events.send([
        { appId: c.appId, usageType: 'pdf', count: 3, timestamp: new Date() },
        { id: 'fixed-id', appId: c.appId, usageType: 'pdf', requestArgs: { lang: 'en' } },
        { appId: 'no-such-app', usageType: 'pdf' },
      ]);
      assert.deepEqual([report.accepted, report.duplicates], [2, 0]);
      assert.deepEqual(report.rejected.map((r) => [r.index, r.error]), [[2, 'unknown_app']]);
      assert.match(report.rejected[0]!.id!, /^[0-9a-f-]{36}$/, 'the SDK gave the event a UUID');
      const again = await tollgate.events.send([{ id: 'fixed-id', appId: c.appId, usageType: 'pdf' }]);
      assert.deepEqual([again.accepted, again.duplicates], [0, 1]);
      assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, 4);
    });
  });

  describe('retries', () => {
    test('503 and 429 are retried, after Retry-After, until the answer comes', async () => {
      const fake = await fakeServer((n, _req, _body, res) => {
        if (n === 0) return json(res, 503, { error: 'unavailable', message: 'Starting.' });
        if (n === 1) return json(res, 429, { error: 'rate_limited', message: 'Slow down.' }, { 'retry-after': '1' });
        return json(res, 200, ALLOWED, { ratelimit: '"minute";r=5;t=60' });
      });
      try {
        const client = new Tollgate({ baseUrl: fake.url, token: 't', ...fast });
        const started = Date.now();
        const result = await client.check({ key: 'k', usageType: 'image' });
        assert.equal(result.allowed, true);
        assert.equal(result.headers.ratelimit, '"minute";r=5;t=60');
        assert.equal(fake.requests.length, 3);
        assert.ok(Date.now() - started >= 1_000, 'waited for Retry-After');
        assert.deepEqual(fake.requests.map((r) => JSON.parse(r.body)), Array(3).fill({ key: 'k', usage_type: 'image' }));
      } finally {
        await fake.close();
      }
    });

    test('gives up after `retries` with the last error; never retries a 4xx; does not wait out a Retry-After beyond the longest backoff', async () => {
      const fake = await fakeServer((_n, req, _body, res) => {
        if (req.url === '/admin/plans/bad') return json(res, 400, { error: 'invalid_request', message: 'No.' });
        if (req.url === '/admin/plans/later') return json(res, 429, { error: 'rate_limited', message: 'Later.' }, { 'retry-after': '3600' });
        return json(res, 502, { error: 'internal_error', message: 'Upstream.' });
      });
      try {
        const client = new Tollgate({ baseUrl: fake.url, token: 't', retries: 2, ...fast });
        const failed = await client.admin.plans.get('down').catch((e: unknown) => e);
        assert.ok(failed instanceof TollgateError);
        assert.deepEqual([failed.status, failed.code, failed.message], [502, 'internal_error', 'Upstream.']);
        assert.equal(fake.requests.length, 3);

        const bad = await client.admin.plans.get('bad').catch((e: unknown) => e);
        assert.ok(bad instanceof TollgateError && bad.status === 400);
        assert.equal(fake.requests.length, 4);

        const started = Date.now();
        const later = await client.admin.plans.get('later').catch((e: unknown) => e);
        assert.ok(later instanceof TollgateError);
        assert.deepEqual([later.status, later.retryAfter], [429, 3600]);
        assert.equal(fake.requests.length, 5);
        assert.ok(Date.now() - started < 1_000);
      } finally {
        await fake.close();
      }
    });

    test('a check that may have been counted is retried only with an idempotency key', async () => {
      // The connection drops after the request arrived: Tollgate may have counted the call.
      const fake = await fakeServer((n, req, _body, res) => {
        if (n % 2 === 0) return void req.socket.destroy();
        return json(res, 200, ALLOWED);
      });
      try {
        const client = new Tollgate({ baseUrl: fake.url, token: 't', ...fast });
        const plain = await client.check({ key: 'k', usageType: 'image' }).catch((e: unknown) => e);
        assert.ok(plain instanceof TollgateError);
        assert.deepEqual([plain.status, plain.code], [0, 'network_error']);
        assert.equal(fake.requests.length, 1, 'not retried: a second attempt could count twice');

        fake.requests.length = 0;
        const keyed = await client.check({ key: 'k', usageType: 'image', idempotencyKey: 'job-9' });
        assert.equal(keyed.allowed, true);
        assert.equal(fake.requests.length, 2);
        assert.equal(JSON.parse(fake.requests[1]!.body).idempotency_key, 'job-9');
      } finally {
        await fake.close();
      }
    });

    test('a base URL with a path keeps it; customer calls carry the key, not the token', async () => {
      const fake = await fakeServer((_n, _req, _body, res) => json(res, 200, { monthly_used: 1, monthly_quota: -1, rate_limit_per_minute: -1, period_start: 'a', period_end: 'b' }));
      try {
        const client = new Tollgate({ baseUrl: `${fake.url}/tollgate`, token: 'secret-token' });
        assert.equal((await client.usage.current({ appId: 'my-app', appKey: 'tg_k' })).monthlyUsed, 1);
        const [sent] = fake.requests;
        assert.equal(sent!.url, '/tollgate/v1/usage');
        assert.deepEqual([sent!.headers.app_id, sent!.headers.app_key, sent!.headers.authorization], ['my-app', 'tg_k', undefined]);
      } finally {
        await fake.close();
      }
    });

    test('a request that gets no answer in time fails with code timeout', async () => {
      const fake = await fakeServer(() => new Promise(() => undefined));
      try {
        const client = new Tollgate({ baseUrl: fake.url, token: 't', timeoutMs: 200, retries: 0 });
        const error = await client.usage.current({ key: 'k' }).catch((e: unknown) => e);
        assert.ok(error instanceof TollgateError);
        assert.deepEqual([error.status, error.code], [0, 'timeout']);
      } finally {
        await fake.close();
      }
    });

    test('backoff grows exponentially within its jitter, and Retry-After reads seconds and dates', () => {
      const policy = { retries: 5, baseDelayMs: 100, maxDelayMs: 1_000 };
      assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelay(a, policy, () => 0)), [50, 100, 200, 400, 500]);
      assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelay(a, policy, () => 0.999999)).map(Math.round), [100, 200, 400, 800, 1000]);
      assert.equal(parseRetryAfter('7'), 7_000);
      assert.equal(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1)), 30_000);
      assert.equal(parseRetryAfter('soon'), null);
      assert.equal(parseRetryAfter(null), null);
    });
  });

  describe('the event batcher', () => {
    /** A client whose requests are counted. */
    function countingClient(baseUrl: string, token = ADMIN_TOKEN) {
      const sent: unknown[][] = [];
      const fetchCounting: FetchLike = (url, init) => {
        if (url.endsWith('/v1/events')) sent.push(JSON.parse(init.body as string) as unknown[]);
        return fetch(url, init);
      };
      return { client: new Tollgate({ baseUrl, token, fetch: fetchCounting, ...fast }), sent };
    }

    test('a full batch is sent at once, without waiting for the interval', async () => {
      const c = await customer();
      const { client, sent } = countingClient(server.url);
      const batcher = client.events.batcher({ maxBatch: 3, flushIntervalMs: 60_000 });
      for (let i = 0; i < 7; i += 1) batcher.enqueue({ appId: c.appId, usageType: 'pdf', count: 2 });
      await waitFor(() => sent.length === 2, 'two full batches');
      assert.deepEqual(sent.map((b) => b.length), [3, 3]);
      assert.equal(batcher.pending, 1);
      const totals = await batcher.close();
      assert.deepEqual(sent.map((b) => b.length), [3, 3, 1]);
      assert.deepEqual(totals, { accepted: 7, duplicates: 0, rejected: 0, failed: 0 });
      assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, 14);
      assert.throws(() => batcher.enqueue({ appId: c.appId, usageType: 'pdf' }), /closed/);
    });

    test('a partial batch is sent when the interval has passed', async () => {
      const c = await customer();
      const { client, sent } = countingClient(server.url);
      const batcher = client.events.batcher({ maxBatch: 1000, flushIntervalMs: 200 });
      const started = Date.now();
      const ids = [batcher.enqueue({ appId: c.appId, usageType: 'pdf' }), batcher.enqueue({ id: 'mine', appId: c.appId, usageType: 'pdf', count: 4 })];
      assert.equal(sent.length, 0);
      await waitFor(() => sent.length === 1, 'the interval flush');
      assert.ok(Date.now() - started >= 190, `sent after ${Date.now() - started} ms`);
      assert.deepEqual(sent[0]!.map((e) => (e as { id: string }).id), ids);
      assert.equal(ids[1], 'mine');
      await waitFor(() => batcher.pending === 0, 'the buffer to empty');
      await batcher.flush();
      assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, 5);
      await batcher.close();
    });

    test('the wait before a partial batch is sent runs on the scheduler it is given: the batch goes when the clock reaches the interval, not before', async () => {
      const c = await customer();
      const { client, sent } = countingClient(server.url);
      const clock = new ManualClock(0);
      const scheduler = new ManualScheduler(clock);
      const batcher = client.events.batcher({ maxBatch: 1000, flushIntervalMs: 1_000, scheduler });
      batcher.enqueue({ appId: c.appId, usageType: 'pdf' });
      batcher.enqueue({ appId: c.appId, usageType: 'pdf', count: 2 });
      assert.equal(scheduler.pending, 1, 'one wait for the batch, however many events it holds');
      await scheduler.advance(999);
      assert.deepEqual([sent.length, batcher.pending], [0, 2], 'nothing is sent before the interval');
      await scheduler.advance(1);
      assert.deepEqual([sent.length, sent[0]!.length, batcher.pending], [1, 2, 0], 'sent (and answered) as the interval passes');
      assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, 3);
      assert.equal(scheduler.pending, 0, 'an idle batcher waits for nothing');
      await batcher.close();
    });

    test('a batch retried after Tollgate accepted it is counted once, thanks to its ids', async () => {
      const c = await customer();
      // A proxy that delivers the first batch to Tollgate, then tells the client it failed.
      const proxy = await fakeServer(async (n, req, body, res) => {
        const upstream = await fetch(`${server.url}${req.url}`, { method: req.method!, headers: { authorization: req.headers.authorization!, 'content-type': 'application/json' }, body });
        const text = await upstream.text();
        if (n === 0) return json(res, 503, { error: 'unavailable', message: 'Lost the answer.' });
        res.writeHead(upstream.status, { 'content-type': 'application/json' });
        res.end(text);
      });
      try {
        const client = new Tollgate({ baseUrl: proxy.url, token: ADMIN_TOKEN, ...fast });
        const batcher = client.events.batcher({ maxBatch: 100, flushIntervalMs: 60_000, maxRetries: 3 });
        for (let i = 0; i < 5; i += 1) batcher.enqueue({ appId: c.appId, usageType: 'image', count: 10 });
        const report = await batcher.close();
        assert.equal(proxy.requests.length, 2, 'sent, then retried');
        assert.equal(proxy.requests[1]!.body, proxy.requests[0]!.body, 'the retry carries the same ids');
        assert.deepEqual([report.accepted, report.duplicates, report.failed], [0, 5, 0]);
        assert.equal((await tollgate.usage.current({ key: c.key })).monthlyUsed, 50);
        const [record] = await tollgate.usage.query({ key: c.key }, { groupBy: 'usage_type' });
        assert.equal(record!.count, 50);
      } finally {
        await proxy.close();
      }
    });

    test('undeliverable batches go to onError with their events; refused events to onRejected', async () => {
      const c = await customer();
      const dead = await fakeServer(() => undefined);
      await dead.close();
      const lost: Array<{ code: string; ids: string[] }> = [];
      const offline = new Tollgate({ baseUrl: dead.url, token: ADMIN_TOKEN, ...fast }).events.batcher({
        maxRetries: 1, onError: (error, events) => lost.push({ code: error.code, ids: events.map((e) => e.id) }),
      });
      const id = offline.enqueue({ appId: c.appId, usageType: 'pdf' });
      const report = await offline.close();
      assert.deepEqual(lost, [{ code: 'network_error', ids: [id] }]);
      assert.equal(report.failed, 1);

      const refused: Array<[number, string]> = [];
      const online = tollgate.events.batcher({ maxBatch: 2, flushIntervalMs: 60_000, onRejected: (rejections) => refused.push(...rejections.map((r) => [r.index, r.error] as [number, string])) });
      const flushing = online.flush();
      online.enqueue({ appId: c.appId, usageType: 'pdf' });
      online.enqueue({ appId: c.appId, usageType: 'pdf', count: 0 });
      const bad = online.enqueue({ appId: c.appId, usageType: 'pdf', count: -1 });
      assert.deepEqual(await flushing, { accepted: 0, duplicates: 0, rejected: [], failed: 0 }, 'nothing was waiting when it was called');
      const flushed = await online.flush();
      assert.deepEqual([flushed.accepted, flushed.rejected.map((r) => [r.index, r.id, r.error])], [0, [[0, bad, 'invalid_count']]],
        'the full batch went on its own; this flush sent the last event only');
      assert.deepEqual(refused, [[1, 'invalid_count'], [0, 'invalid_count']], 'onRejected heard of both, by index in their batch');
      assert.deepEqual(await online.close(), { accepted: 1, duplicates: 0, rejected: 2, failed: 0 });
    });
  });
});
