import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { addressKey, AuthThrottle } from '../../src/http/auth-throttle.js';
import type { Config } from '../../src/config.js';
import { ADMIN_TOKEN, adminClient, setupCustomer, startTestServer, type TestServer } from '../helpers/server.js';

const WRONG = 'a-wrong-token-0123456789abcdef';
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
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function throttledServer(config: Partial<Config> = {}) {
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
  test('after the limit of failures an address is refused, right credentials included, until the block ends; other addresses are not', async () => {
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
      // Refused before the credentials are looked at: the right admin token gets the same 429 as a guess.
      assertRefused(await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) }), 290);
      assertRefused(await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(WRONG) }), 290);
      assertRefused(await from('127.0.0.2', `${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } }), 290);
      assertRefused(await from('127.0.0.2', `${server.url}/v1/check`, { method: 'POST', headers: bearer(serviceToken), body: { key: c.key, usage_type: 'image' } }), 290);
      // What needs no credentials still answers.
      assert.equal((await from('127.0.0.2', `${server.url}/healthz`)).status, 200);

      // Another address is not slowed down at all, and its own failures start from nothing.
      assert.equal((await from('127.0.0.3', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
      assert.equal((await from('127.0.0.3', `${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } })).status, 200);
      assert.equal((await from('127.0.0.3', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401);

      // Once the block is over the address is heard again, and counted afresh.
      clock.advance(BLOCK_MS - 10_000);
      assert.equal((await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
      for (let i = 0; i < LIMIT - 1; i++) assert.equal((await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(WRONG) })).status, 401);
      assert.equal((await from('127.0.0.2', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) })).status, 200);
    } finally {
      await server.close();
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
      assertRefused(await from('127.0.0.4', `${server.url}/admin/plans`, { headers: bearer(ADMIN_TOKEN) }), BLOCK_MS / 1000);
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
      assert.equal((await viaProxy(trusting.server, '203.0.113.7', ADMIN_TOKEN)).status, 429, 'the client behind the proxy is refused');
      assert.equal((await viaProxy(trusting.server, '203.0.113.8', ADMIN_TOKEN)).status, 200, 'another client behind the same proxy is not');

      // Untrusted, the header is the caller's word: changing it on every guess does not escape the count.
      for (let i = 0; i < LIMIT; i++) assert.equal((await viaProxy(ignoring.server, `203.0.113.${i}`, WRONG)).status, 401);
      assert.equal((await viaProxy(ignoring.server, '198.51.100.1', ADMIN_TOKEN)).status, 429);
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
