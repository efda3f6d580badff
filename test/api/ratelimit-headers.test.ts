import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseList, type Item } from 'structured-headers';
import { ManualClock } from '../../src/clock.js';
import { adminClient, request, setupCustomer, type AdminClient, type JsonResponse, type TestServer } from '../helpers/server.js';
import { startGatewayTestServer } from '../helpers/upstream.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  // The headers are read with an RFC 8941 parser, as a client of the draft
  // (draft-ietf-httpapi-ratelimit-headers-10) reads them, and their promises
  // are then taken at their word on a clock the test moves: after `t` seconds
  // a unit more is there (and not a second before), after `Retry-After` the
  // refused call passes (and not a second before).

  const T0 = Date.parse('2026-03-15T12:00:10Z');
  const MONTH_END = Date.parse('2026-04-01T00:00:00Z');
  const clock = new ManualClock(T0);
  let server: TestServer;
  let admin: AdminClient;

  before(async () => {
    server = await startGatewayTestServer((origin) => `  - method: POST
    path: /v1/ocr
    upstream: ${origin}
    usage_type: image
    cost: { request_header: x-pages, default: 1 }
`, { clock, store });
    admin = adminClient(server.url);
  });
  after(async () => server.close());

  interface Limit {
    /** RateLimit-Policy: quota and window. */
    q: number;
    w: number;
    /** RateLimit: remaining, and the seconds until more is made available (absent when nothing is to come back). */
    r: number;
    t: number | undefined;
  }

  /** The RateLimit fields of an answer, parsed as Structured Field Lists, by policy name; and Retry-After. */
  function readHeaders(res: JsonResponse): { limits: Map<string, Limit>; retryAfter: number | null } {
    const policy = res.headers.get('ratelimit-policy');
    const state = res.headers.get('ratelimit');
    assert.ok(policy !== null && state !== null, 'both RateLimit fields are sent');
    const items = (text: string) => parseList(text).map((member) => {
      assert.ok(!Array.isArray(member[0]), 'each member is an Item, not an Inner List');
      const [name, params] = member as Item;
      assert.equal(typeof name, 'string', 'the policy name is a String');
      return [name as string, params] as const;
    });
    const integer = (value: unknown, what: string) => {
      assert.ok(typeof value === 'number' && Number.isInteger(value) && value >= 0, `${what} is a non-negative Integer: ${String(value)}`);
      return value;
    };
    const policies = new Map(items(policy));
    const limits = new Map<string, Limit>();
    for (const [name, params] of items(state)) {
      const declared = policies.get(name);
      assert.ok(declared !== undefined, `"${name}" in RateLimit is a policy of RateLimit-Policy`);
      const w = integer(declared.get('w'), 'w');
      assert.ok(w > 0, 'w is not zero');
      const t = params.get('t');
      limits.set(name, { q: integer(declared.get('q'), 'q'), w, r: integer(params.get('r'), 'r'), t: t === undefined ? undefined : integer(t, 't') });
    }
    assert.equal(limits.size, policies.size, 'every policy has its state');
    const retry = res.headers.get('retry-after');
    if (retry !== null) assert.match(retry, /^\d+$/, 'Retry-After is delay-seconds');
    return { limits, retryAfter: retry === null ? null : Number(retry) };
  }

  /**
   * What must hold on every answer: a limit with units used says when more
   * comes back, one with none used does not; an admission has no Retry-After;
   * a refusal's Retry-After is never earlier than the `t` of a limit that
   * refused it (one with fewer units left than the call needs).
   */
  function assertConsistent(res: JsonResponse, cost: number, refused: boolean): ReturnType<typeof readHeaders> {
    const read = readHeaders(res);
    for (const [name, limit] of read.limits) {
      assert.ok(limit.r <= limit.q, `${name}: r ${limit.r} <= q ${limit.q}`);
      if (limit.r < limit.q) assert.notEqual(limit.t, undefined, `${name}: units are used, so t says when more come back`);
      else assert.equal(limit.t, undefined, `${name}: nothing used, no t`);
    }
    if (!refused) {
      assert.equal(read.retryAfter, null, 'an admission has no Retry-After');
      return read;
    }
    assert.notEqual(read.retryAfter, null, 'a refusal a retry can overcome has Retry-After');
    const refusing = [...read.limits].filter(([, limit]) => limit.r < cost);
    assert.ok(refusing.length > 0, 'some limit has fewer units left than the call needs');
    for (const [name, limit] of refusing) assert.ok(read.retryAfter! >= limit.t!, `Retry-After ${read.retryAfter} is not earlier than ${name}'s t=${limit.t}`);
    return read;
  }

  const check = (key: string, cost = 1) => admin.post('/v1/check', { key, usage_type: 'image', cost });
  const usage = (key: string) => request(`${server.url}/v1/usage`, { headers: { 'x-api-key': key } });
  const ocrUsage = (key: string) => request(`${server.url}/v3/ocr-usage`, { headers: { 'x-api-key': key } });
  const gateway = (key: string, pages = 1) => request(`${server.url}/v1/ocr`, { method: 'POST', headers: { 'x-api-key': key, 'x-pages': String(pages) }, body: {} });
  const admitted = (res: JsonResponse) => (res.body.allowed === undefined ? res.status < 400 : res.body.allowed === true);

  /** Moves the clock to `seconds` after `from`. */
  const at = (from: number, seconds: number) => clock.set(from + seconds * 1000);

  describe('RateLimit headers: the sliding minute', () => {
    for (const [surface, call] of [
      ['the check API', (key: string) => check(key)],
      ['GET /v1/usage', usage],
      ['GET /v3/ocr-usage', ocrUsage],
      ['the gateway', (key: string) => gateway(key)],
    ] as const) {
      test(`${surface}: t is when the next unit comes back, and a refusal's Retry-After is that t`, async () => {
        clock.set(T0);
        const c = await setupCustomer(admin, { ratePerMinute: 3 });
        // Three calls at 12:00:10 fill the window; they weigh fully until 12:01:00, then slide out over the next minute.
        const answers = [await call(c.key), await call(c.key), await call(c.key)];
        answers.forEach((res, i) => {
          assert.ok(admitted(res), `call ${i + 1} admitted`);
          const minute = assertConsistent(res, 1, false).limits.get('minute')!;
          assert.deepEqual({ q: minute.q, w: minute.w, r: minute.r }, { q: 3, w: 60, r: 2 - i });
        });
        // With k units counted (r = 3 - k), one more is back when k·(1 - e/60) <= k - 1, e the seconds past 12:01:00:
        // 12:02:00 for k = 1 (110 s from now), 12:01:30 for k = 2 (80 s), 12:01:20 for k = 3 (70 s).
        assert.deepEqual(answers.map((res) => readHeaders(res).limits.get('minute')!.t), [110, 80, 70]);

        const refused = await call(c.key);
        assert.equal(admitted(refused), false);
        if (refused.body.allowed === undefined) assert.equal(refused.status, 429);
        const read = assertConsistent(refused, 1, true);
        assert.deepEqual(read.limits.get('minute'), { q: 3, w: 60, r: 0, t: 70 });
        assert.equal(read.retryAfter, 70, 'a call of one unit fits exactly when the next unit comes back');

        // Taken at its word: a second early it is still refused, and says 1 second; on time it passes.
        at(T0, 69);
        const early = await call(c.key);
        assert.equal(admitted(early), false);
        assert.equal(assertConsistent(early, 1, true).retryAfter, 1);
        at(T0, 70);
        assert.ok(admitted(await call(c.key)), 'admitted at Retry-After');
      });
    }

    test('a call of several units waits longer than t, exactly as long as it needs', async () => {
      clock.set(T0);
      const c = await setupCustomer(admin, { ratePerMinute: 4 });
      assert.equal((await check(c.key, 3)).body.allowed, true);
      const refused = await check(c.key, 3);
      assert.equal(refused.body.code, 'rate_limited');
      const read = assertConsistent(refused, 3, true);
      // 3 units counted at 12:00:10, 1 left; the next unit is back at 12:01:20 (3·(1 - e/60) <= 2), room for 3 at 12:01:40 (<= 1).
      assert.deepEqual(read.limits.get('minute'), { q: 4, w: 60, r: 1, t: 70 });
      assert.equal(read.retryAfter, 90);
      assert.equal(refused.body.retry_after, 90, 'the body says the same');
      at(T0, 89);
      assert.equal((await check(c.key, 3)).body.allowed, false);
      at(T0, 90);
      assert.equal((await check(c.key, 3)).body.allowed, true);
    });

    test("the group's and the app's minutes: Retry-After waits for every limit that refused", async () => {
      clock.set(T0);
      const c = await setupCustomer(admin, { ratePerMinute: 2, appRatePerMinute: 1 });
      const other = await admin.post(`/admin/groups/${c.groupId}/apps`, { id: `${c.appId}-b` });
      assert.equal(other.status, 201);
      const otherKey = (await admin.post(`/admin/apps/${c.appId}-b/keys`, { name: 'b' })).body.key as string;
      assert.equal((await check(otherKey)).body.allowed, true);
      at(T0, 30);
      assert.equal((await check(c.key)).body.allowed, true);
      const refused = await check(c.key);
      assert.equal(refused.body.code, 'rate_limited');
      const read = assertConsistent(refused, 1, true);
      // The group's 2 units (12:00:10, 12:00:40): one back at 12:01:30, 50 s after 12:00:40; the app's 1 unit: back at 12:02:00, 80 s after.
      assert.deepEqual(read.limits.get('minute'), { q: 2, w: 60, r: 0, t: 50 });
      assert.deepEqual(read.limits.get('app-minute'), { q: 1, w: 60, r: 0, t: 80 });
      assert.equal(read.retryAfter, 80, 'the call must fit both');
      at(T0, 30 + 79);
      assert.equal((await check(c.key)).body.allowed, false);
      at(T0, 30 + 80);
      assert.equal((await check(c.key)).body.allowed, true);
    });

    test('a limit of 0 has no unit to come back: no t, and a refusal without Retry-After (never)', async () => {
      clock.set(T0);
      const c = await setupCustomer(admin, { ratePerMinute: 0 });
      const refused = await check(c.key);
      assert.equal(refused.body.code, 'rate_limited');
      assert.equal(refused.body.retry_after, null);
      const read = readHeaders(refused);
      assert.deepEqual(read.limits.get('minute'), { q: 0, w: 60, r: 0, t: undefined });
      assert.equal(read.retryAfter, null);
    });
  });

  describe('RateLimit headers: the month quota', () => {
    test('the check API: t is the end of the billing period once units are used; the refusal waits exactly that long', async () => {
      clock.set(T0);
      const c = await setupCustomer(admin, { monthlyQuota: 2 });
      const toEnd = (MONTH_END - T0) / 1000;
      const first = await check(c.key);
      assert.deepEqual(assertConsistent(first, 1, false).limits.get('month'), { q: 2, w: 31 * 86_400, r: 1, t: toEnd });
      assert.deepEqual(readHeaders(await check(c.key)).limits.get('month'), { q: 2, w: 31 * 86_400, r: 0, t: toEnd });
      const refused = await check(c.key);
      assert.equal(refused.body.code, 'quota_exceeded');
      const read = assertConsistent(refused, 1, true);
      assert.equal(read.retryAfter, read.limits.get('month')!.t);
      assert.equal(read.retryAfter, toEnd);
      // A second before the period ends it is still refused; at its end the quota is back whole.
      clock.set(MONTH_END - 1000);
      assert.equal(assertConsistent(await check(c.key), 1, true).retryAfter, 1);
      clock.set(MONTH_END);
      const fresh = await check(c.key);
      assert.equal(fresh.body.allowed, true);
      assert.equal(readHeaders(fresh).limits.get('month')!.r, 1);
    });

    test('the usage endpoints count no units: the month shows r = q and no t', async () => {
      clock.set(T0);
      const c = await setupCustomer(admin, { monthlyQuota: 5, ratePerMinute: 10 });
      for (const res of [await usage(c.key), await ocrUsage(c.key)]) {
        assert.equal(res.status, 200);
        assert.deepEqual(assertConsistent(res, 1, false).limits.get('month'), { q: 5, w: 31 * 86_400, r: 5, t: undefined });
      }
    });

    test('the gateway: a refusal by the quota waits for the period end; an admission shows the settled cost', async () => {
      clock.set(T0);
      const c = await setupCustomer(admin, { monthlyQuota: 5 });
      const served = await gateway(c.key, 4);
      assert.equal(served.status, 200);
      assert.deepEqual(assertConsistent(served, 4, false).limits.get('month'), { q: 5, w: 31 * 86_400, r: 1, t: (MONTH_END - T0) / 1000 });
      const refused = await gateway(c.key, 2);
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error, 'quota_exceeded');
      const read = assertConsistent(refused, 2, true);
      assert.equal(read.retryAfter, read.limits.get('month')!.t);
    });
  });
});
