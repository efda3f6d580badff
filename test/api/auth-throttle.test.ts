import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { addressKey, AuthThrottle } from '../../src/http/auth-throttle.js';
import type { Settings } from '../../src/config.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { ADMIN_TOKEN, adminClient, setupCustomer, startTestServer, type TestServer } from '../helpers/server.js';

// scale-out: the throttle counts failed credentials in the process, before any store is asked; the same on both.

const WRONG = 'a-wrong-token-0123456789abcdef';
const METRICS_TOKEN = 'a-metrics-token-0123456789abcdef-0123';
const LIMIT = 5;
const WINDOW_MS = 60_000;
const BLOCK_MS = 300_000;

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: any }

/**
 * A request over a real socket from a chosen loopback address (all of
 * 127.0.0.0/8 reaches the server on 127.0.0.1), so that two callers are two
 * client addresses to the server.
 */
function from(localAddress: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    const req = httpRequest(url, {
      method: init.method ?? 'GET', localAddress, agent: false,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      // JSON but for /metrics, whose text is kept as it is.
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: /json/.test(res.headers['content-type'] ?? '') ? JSON.parse(text) : text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function throttledServer(config: Partial<Settings> = {}) {
  const clock = new ManualClock(Date.parse('2026-11-20T10:00:00Z'));
  const server = await startTestServer({ clock, config: { authFailureLimit: LIMIT, authFailureWindowMs: WINDOW_MS, authBlockMs: BLOCK_MS, ...config } });
  return { server, clock, admin: adminClient(server.url) };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function assertRefused(answer: Answer, retryAfter: number) {
  assert.equal(answer.status, 429);
  assert.deepEqual(answer.body, {
    error: 'rate_limited', message: `Too many failed authentication attempts from this address. Retry in ${retryAfter} seconds.`,
  });
  assert.equal(answer.headers['retry-after'], String(retryAfter));
}

describe('failed authentication is throttled per client address', () => {
  test('after the limit of failures an address gets 429 for wrong credentials, while right ones pass, until the block ends; other addresses are not affected', async () => {
    const { server, clock, admin } = await throttledServer();
    try {
      const c = await setupCustomer(admin);
      const serviceToken = (await admin.post('/admin/service-tokens', { name: 'backend' })).body.token as string;
      // Every kind of credential counts: admin token, service token, metrics reader, customer key.
      const failures = [
        () => from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(WRONG) }),
        () => from('127.0.0.2', `${server.url}/v1/check`, { method: 'POST', headers: bearer(WRONG), body: { key: c.key, usage_type: 'image' } }),
        () => from('127.0.0.2', `${server.url}/metrics`, { headers: bearer(WRONG) }),
        () => from('127.0.0.2', `${server.url}/v1/usage`, { headers: { 'x-api-key': 'tg_notakey' } }),
        () => from('127.0.0.2', `${server.url}/v3/ocr-usage`, { headers: { app_id: c.appId, app_key: 'tg_notakey' } }),
      ];
      assert.equal(failures.length, LIMIT);
      for (const fail of failures) assert.equal((await fail()).status, 401);

      clock.advance(10_000);
      // Refused: every wrong credential, of every kind, gets the 429 and its Retry-After.
      for (const fail of failures) assertRefused(await fail(), 290);
      // The right credentials are checked first and pass: the address is shared by whoever is behind it.
      assert.equal((await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
      assert.equal((await from('127.0.0.2', `${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } })).status, 200);
      assert.equal((await from('127.0.0.2', `${server.url}/v1/check`, { method: 'POST', headers: bearer(serviceToken), body: { key: c.key, usage_type: 'image' } })).body.allowed, true);
      // What needs no credentials still answers.
      assert.equal((await from('127.0.0.2', `${server.url}/healthz`)).status, 200);

      // Another address is not slowed down at all, and its own failures start from nothing.
      assert.equal((await from('127.0.0.3', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
      assert.equal((await from('127.0.0.3', `${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } })).status, 200);
      assert.equal((await from('127.0.0.3', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401);

      // Once the block is over the address is heard again, and counted afresh.
      clock.advance(BLOCK_MS - 10_000);
      assert.equal((await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401);
      for (let i = 0; i < LIMIT - 2; i++) assert.equal((await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401);
      assert.equal((await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
      assert.equal((await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401, 'the limit-th failure itself is answered');
      assertRefused(await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(WRONG) }), BLOCK_MS / 1000);
    } finally {
      await server.close();
    }
  });

  test('behind one address (a NAT, a corporate proxy), 30 wrong keys lock out nobody with a valid credential, and the next wrong key is still refused', async () => {
    // The default limits: 20 failures a minute, then refused for 5 minutes.
    const clock = new ManualClock(Date.parse('2026-11-20T10:00:00Z'));
    const upstream = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"served":true}'));
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const gateway = parseGatewayConfig(
      `routes:\n  - method: GET\n    path: /v1/ocr\n    upstream: http://127.0.0.1:${(upstream.address() as AddressInfo).port}\n    usage_type: image\n`, 'gateway.yaml');
    const server = await startTestServer({ clock, gateway, config: { metricsToken: METRICS_TOKEN } });
    try {
      const admin = adminClient(server.url);
      const c = await setupCustomer(admin);
      const serviceToken = (await admin.post('/admin/service-tokens', { name: 'backend' })).body.token as string;
      const wrongKey = (i: number) => from('127.0.0.6', `${server.url}/v1/usage`, { headers: { 'x-api-key': `tg_wrong${i}` } });
      const answers = [];
      for (let i = 0; i < 30; i++) answers.push((await wrongKey(i)).status);
      assert.deepEqual(answers, [...Array<number>(20).fill(401), ...Array<number>(10).fill(429)]);

      const usage = await from('127.0.0.6', `${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } });
      assert.equal(usage.status, 200, JSON.stringify(usage.body));
      const check = await from('127.0.0.6', `${server.url}/v1/check`, { method: 'POST', headers: bearer(serviceToken), body: { key: c.key, usage_type: 'image' } });
      assert.equal(check.status, 200, JSON.stringify(check.body));
      assert.equal(check.body.allowed, true);
      assert.equal((await from('127.0.0.6', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
      assert.equal((await from('127.0.0.6', `${server.url}/metrics`, { headers: bearer(METRICS_TOKEN) })).status, 200);
      const proxied = await from('127.0.0.6', `${server.url}/v1/ocr`, { headers: { 'x-api-key': c.key } });
      assert.equal(proxied.status, 200, JSON.stringify(proxied.body));
      assert.deepEqual(proxied.body, { served: true });
      const signIn = await from('127.0.0.6', `${server.url}/dashboard/session`, { method: 'POST', body: { token: ADMIN_TOKEN } });
      assert.equal(signIn.status, 200, JSON.stringify(signIn.body));
      const customerSignIn = await from('127.0.0.6', `${server.url}/dashboard/session`, { method: 'POST', body: { token: c.key } });
      assert.equal(customerSignIn.status, 200, JSON.stringify(customerSignIn.body));
      const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
      assert.equal((await from('127.0.0.6', `${server.url}/dashboard/api/admin/groups`, { headers: { cookie } })).status, 200);

      assertRefused(await wrongKey(30), 300);
      assertRefused(await from('127.0.0.6', `${server.url}/dashboard/session`, { method: 'POST', body: { token: WRONG } }), 300);
      assertRefused(await from('127.0.0.6', `${server.url}/v1/check`, { method: 'POST', headers: bearer(WRONG), body: { key: c.key, usage_type: 'image' } }), 300);
      assertRefused(await from('127.0.0.6', `${server.url}/v1/ocr`, { headers: { 'x-api-key': 'tg_wrong' } }), 300);
      assertRefused(await from('127.0.0.6', `${server.url}/metrics`, { headers: bearer(WRONG) }), 300);
    } finally {
      await server.close();
      upstream.close();
    }
  });

  test('failures count within the window only, successes never count, and a check refusing a customer key is not a failure of the caller', async () => {
    const { server, clock, admin } = await throttledServer();
    try {
      const c = await setupCustomer(admin);
      for (let i = 0; i < LIMIT - 1; i++) assert.equal((await from('127.0.0.4', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401);
      for (let i = 0; i < 50; i++) assert.equal((await from('127.0.0.4', `${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } })).status, 200);
      // The backend's service credential is right; the customer's key it passes on is not its failure (a bad
      // customer could otherwise lock the provider's backend out): the check answers, 200, for every one.
      for (let i = 0; i < 3 * LIMIT; i++) {
        const answer = await from('127.0.0.4', `${server.url}/v1/check`, { method: 'POST', headers: bearer(ADMIN_TOKEN), body: { key: `tg_guess${i}`, usage_type: 'image' } });
        assert.equal(answer.status, 200);
        assert.equal(answer.body.code, 'unauthorized');
      }
      // The window of the first failure has passed: one more failure starts a new count instead of reaching the limit.
      clock.advance(WINDOW_MS);
      for (let i = 0; i < LIMIT - 1; i++) assert.equal((await from('127.0.0.4', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401);
      assert.equal((await from('127.0.0.4', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
      assert.equal((await from('127.0.0.4', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401, 'the limit-th failure itself is answered');
      assertRefused(await from('127.0.0.4', `${server.url}/admin/plans`, { headers: bearer(WRONG) }), BLOCK_MS / 1000);
      assert.equal(server.tollgate.services.authThrottle.size, 1, 'only the failing address is remembered');
    } finally {
      await server.close();
    }
  });

  test('X-Forwarded-For names the client only when the proxy it came through is trusted', async () => {
    const trusting = await throttledServer({ trustProxy: '127.0.0.1' });
    const ignoring = await throttledServer();
    try {
      const viaProxy = (server: TestServer, client: string, token: string) =>
        from('127.0.0.1', `${server.url}/admin/plans`, { headers: { ...bearer(token), 'x-forwarded-for': client } });
      for (let i = 0; i < LIMIT; i++) assert.equal((await viaProxy(trusting.server, '203.0.113.7', WRONG)).status, 401);
      assert.equal((await viaProxy(trusting.server, '203.0.113.7', WRONG)).status, 429, 'the client behind the proxy is refused');
      assert.equal((await viaProxy(trusting.server, '203.0.113.8', WRONG)).status, 401, 'another client behind the same proxy is not');
      // As nginx sends it ($proxy_add_x_forwarded_for): what the client wrote, then the address nginx saw. A client writing
      // another address in front does not escape its own count.
      assert.equal((await viaProxy(trusting.server, '198.51.100.99, 203.0.113.7', WRONG)).status, 429);

      // Untrusted, the header is the caller's word: changing it on every guess does not escape the count.
      for (let i = 0; i < LIMIT; i++) assert.equal((await viaProxy(ignoring.server, `203.0.113.${i}`, WRONG)).status, 401);
      assert.equal((await viaProxy(ignoring.server, '198.51.100.1', WRONG)).status, 429);
      assert.equal((await viaProxy(ignoring.server, '198.51.100.1', ADMIN_TOKEN)).status, 200, 'the right token passes all the same');
    } finally {
      await trusting.server.close();
      await ignoring.server.close();
    }
  });

  test('a limit of 0 turns the throttle off', async () => {
    const { server } = await throttledServer({ authFailureLimit: 0 });
    try {
      for (let i = 0; i < 4 * LIMIT; i++) assert.equal((await from('127.0.0.5', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401);
      assert.equal((await from('127.0.0.5', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
      assert.equal(server.tollgate.services.authThrottle.size, 0);
    } finally {
      await server.close();
    }
  });
});

describe('the throttle by itself', () => {
  test('counts an IPv6 client by its /64 and an IPv4-mapped one as IPv4', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
  });

  test('holds at most maxAddresses, forgetting the one that failed longest ago', () => {
    const clock = new ManualClock(0);
    const throttle = new AuthThrottle({ limit: 2, windowMs: 60_000, blockMs: 60_000, maxAddresses: 3 }, clock);
    throttle.failed('192.0.2.1');
    throttle.failed('192.0.2.2');
    throttle.failed('192.0.2.3');
    assert.equal(throttle.failed('192.0.2.1'), true, 'the second failure reaches the limit');
    for (let i = 10; i < 20; i++) throttle.failed(`192.0.2.${i}`);
    assert.equal(throttle.size, 3);
    throttle.assertAllowed('192.0.2.1');
    assert.throws(() => {
      const fresh = new AuthThrottle({ limit: 1, windowMs: 1000, blockMs: 1000 }, clock);
      fresh.failed('2001:db8:1:2::1');
      fresh.assertAllowed('2001:db8:1:2::99');
    }, /Too many failed authentication attempts/, 'another address of the same /64 is refused too');
  });
});
