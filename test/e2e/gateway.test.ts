import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { startTollgate, type Tollgate } from '../../src/runtime.js';
import { spawnServer } from '../helpers/process.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, type AdminClient } from '../helpers/server.js';

// ------------------------------------------------------------------ the upstream

interface UpstreamCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bytes: number;
  body: string;
}

/**
 * A tiny upstream that records what it was sent (headers, and the body: its
 * size always, its text when small) and answers by path:
 * /v1/fail 500, /v1/ocr reports pages in x-pages-processed (as the test asks
 * with x-test-pages), /v1/slow answers after 4 s, .../empty 204, anything
 * else 200 with a small JSON body.
 */
async function startUpstream(): Promise<{ server: Server; url: string; calls: UpstreamCall[]; count(path: string): number }> {
  const calls: UpstreamCall[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= 64 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      const call = { method: req.method!, url: req.url!, headers: req.headers, bytes, body: Buffer.concat(chunks).toString() };
      calls.push(call);
      const path = req.url!.split('?')[0]!;
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-upstream': 'yes', ...headers });
        res.end(JSON.stringify(body));
      };
      if (path === '/v1/fail') return json(500, { upstream: 'failed' });
      if (path === '/v1/ocr') {
        const pages = req.headers['x-test-pages'];
        return json(200, { ok: true }, typeof pages === 'string' ? { 'x-pages-processed': pages } : {});
      }
      if (path === '/v1/slow') return void setTimeout(() => json(200, { slow: true }), 4000).unref();
      if (path.endsWith('/empty')) {
        res.writeHead(204, { 'x-upstream': 'yes' });
        return void res.end();
      }
      return json(200, { ok: true, path: req.url, bytes });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server, calls,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: (path) => calls.filter((c) => c.url.split('?')[0] === path).length,
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function gatewayYaml(upstream: string, downPort: number): string {
  return `# the gateway of the tests
upstream_timeout_ms: 5000
routes:
  - method: POST
    path: /v3/text
    upstream: ${upstream}
    usage_type: image
    cost: { fixed: 1 }
    request_args: { headers: [x-format], query: [formats] }
  - method: POST
    path: /v1/fail
    upstream: ${upstream}
    usage_type: image
  - method: POST
    path: /v1/pdf
    upstream: ${upstream}
    usage_type: pdf
    cost: { request_header: x-pages, default: 1 }
  - method: POST
    path: /v1/ocr
    upstream: ${upstream}
    usage_type: ocr
    cost: { response_header: x-pages-processed, reserve: 5 }
  - method: GET
    path: /v1/slow
    upstream: ${upstream}
    usage_type: slow
    timeout_ms: 200
  - method: [GET, HEAD, DELETE]
    path: /v1/jobs/:id
    upstream: ${upstream}/base/
    usage_type: job
    count_statuses: "2xx,3xx"
  - method: '*'
    path: /v1/files/*
    upstream: ${upstream}
    usage_type: file
    count_statuses: [200, 204]
  - method: POST
    path: /v1/down
    upstream: http://127.0.0.1:${downPort}
    usage_type: image
  - method: POST
    path: /v1/upload
    upstream: ${upstream}
    usage_type: upload
`;
}

/** A request over node:http, every header exactly as given (fetch adds and forbids some). */
function rawRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Readable } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (init.body instanceof Readable) pipeline(init.body, req).catch(reject);
    else req.end(init.body);
  });
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

// ------------------------------------------------------------------ in-process server

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let tollgate: Tollgate;
let dataDir: string;
let base: string;
let admin: AdminClient;

before(async () => {
  upstream = await startUpstream();
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-gateway-'));
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, adminToken: ADMIN_TOKEN, logLevel: 'silent' });
  const gateway = parseGatewayConfig(gatewayYaml(upstream.url, await closedPort()), 'gateway.yaml');
  tollgate = await startTollgate(config, { logger: false, gateway });
  base = tollgate.url;
  admin = adminClient(base);
});

after(async () => {
  await tollgate.close();
  upstream.server.closeAllConnections();
  await new Promise((r) => upstream.server.close(r));
  rmSync(dataDir, { recursive: true, force: true });
});

const usedBy = async (key: string): Promise<number> => (await request(`${base}/v1/usage`, { headers: { 'x-api-key': key } })).body.monthly_used;
const post = (path: string, key: string, headers: Record<string, string> = {}, body: unknown = { text: 'hello' }) =>
  request(`${base}${path}`, { method: 'POST', headers: { 'x-api-key': key, ...headers }, body });

describe('gateway: what is counted', () => {
  test('a 2xx answer of a fixed-cost route is passed through and counted, with the RateLimit headers', async () => {
    const c = await setupCustomer(admin, { monthlyQuota: 100, ratePerMinute: 50 });
    const before = upstream.count('/v3/text');
    const res = await post('/v3/text', c.key);
    assert.equal(res.status, 200);
    assert.equal(res.body.ok, true);
    assert.equal(res.headers.get('x-upstream'), 'yes', "the upstream's own headers come back");
    assert.equal(upstream.count('/v3/text'), before + 1);
    assert.match(res.headers.get('ratelimit-policy')!, /"minute";q=50;w=60, "month";q=100;w=\d+/);
    assert.match(res.headers.get('ratelimit')!, /"minute";r=49;t=\d+, "month";r=99;t=\d+/);
    assert.equal(await usedBy(c.key), 1);
  });

  test('app_id + app_key and Authorization: Bearer <key> work as well', async () => {
    const c = await setupCustomer(admin);
    assert.equal((await post('/v3/text', '', { app_id: c.appId, app_key: c.key })).status, 200);
    const bearer = await request(`${base}/v3/text`, { method: 'POST', headers: { authorization: `Bearer ${c.key}` }, body: {} });
    assert.equal(bearer.status, 200);
    assert.equal(await usedBy(c.key), 2);
  });

  test("an upstream 500 is passed through and not counted", async () => {
    const c = await setupCustomer(admin, { monthlyQuota: 10 });
    const res = await post('/v1/fail', c.key);
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, { upstream: 'failed' });
    assert.equal(res.headers.get('x-upstream'), 'yes');
    assert.match(res.headers.get('ratelimit')!, /"month";r=10$/, 'the reservation was given back (and with nothing used, no t)');
    assert.equal(await usedBy(c.key), 0);
  });

  test('a request-header cost: the header, else its default; a bad value is refused before anything is forwarded', async () => {
    const c = await setupCustomer(admin);
    assert.equal((await post('/v1/pdf', c.key, { 'x-pages': '3' })).status, 200);
    assert.equal(await usedBy(c.key), 3);
    assert.equal((await post('/v1/pdf', c.key)).status, 200);
    assert.equal(await usedBy(c.key), 4);
    const before = upstream.count('/v1/pdf');
    const bad = await post('/v1/pdf', c.key, { 'x-pages': 'three' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_request');
    assert.match(bad.body.message, /header "x-pages" must be a whole number/);
    assert.equal(upstream.count('/v1/pdf'), before);
    assert.equal(await usedBy(c.key), 4);
  });

  test('a response-header cost: reserved, then settled down or up to what the upstream reports', async () => {
    const c = await setupCustomer(admin, { monthlyQuota: 100 });
    const down = await post('/v1/ocr', c.key, { 'x-test-pages': '2' });
    assert.equal(down.status, 200);
    assert.match(down.headers.get('ratelimit')!, /"month";r=98;/, 'the headers show the settled cost, not the reservation');
    assert.equal(await usedBy(c.key), 2);
    const up = await post('/v1/ocr', c.key, { 'x-test-pages': '9' });
    assert.equal(up.status, 200);
    assert.match(up.headers.get('ratelimit')!, /"month";r=89;/);
    assert.equal(await usedBy(c.key), 11);
    // Missing or unreadable: the reservation stands.
    await post('/v1/ocr', c.key);
    assert.equal(await usedBy(c.key), 16);
    await post('/v1/ocr', c.key, { 'x-test-pages': 'lots' });
    assert.equal(await usedBy(c.key), 21);
    // Zero pages: nothing is counted.
    await post('/v1/ocr', c.key, { 'x-test-pages': '0' });
    assert.equal(await usedBy(c.key), 21);

    const usage = await request(`${base}/v3/ocr-usage?group_by=usage_type&timespan=year`, { headers: { 'x-api-key': c.key } });
    assert.equal(usage.status, 200);
    assert.deepEqual(usage.body.ocr_usage.map((r: { usage_type: string; count: number }) => [r.usage_type, r.count]), [['ocr', 21]]);
  });

  test('request_args come from the configured headers and query fields', async () => {
    const c = await setupCustomer(admin);
    await post('/v3/text?formats=text&other=1', c.key, { 'x-format': 'latex', 'x-other': 'x' });
    await post('/v3/text?formats=text', c.key, { 'x-format': 'latex' });
    await post('/v3/text?formats=data', c.key);
    await post('/v3/text', c.key);
    const usage = await request(`${base}/v3/ocr-usage?group_by=request_args_hash&timespan=year`, { headers: { 'x-api-key': c.key } });
    const counts = Object.fromEntries(usage.body.ocr_usage.map((r: { request_args_hash: string; count: number }) => [r.request_args_hash, r.count]));
    assert.deepEqual(counts, {
      [sha1('{"formats":"text","x-format":"latex"}')]: 2,
      [sha1('{"formats":"data"}')]: 1,
      '': 1,
    });
  });

  test('count_statuses: a 204 listed in the route counts; HEAD and DELETE are forwarded as configured', async () => {
    const c = await setupCustomer(admin);
    const empty = await rawRequest(`${base}/v1/files/empty`, { method: 'DELETE', headers: { 'x-api-key': c.key } });
    assert.equal(empty.status, 204);
    assert.equal(empty.headers['x-upstream'], 'yes');
    const res = await request(`${base}/v1/files/a/b.txt`, { method: 'PUT', headers: { 'x-api-key': c.key }, body: 'raw text' });
    assert.equal(res.status, 200);
    assert.equal(res.body.path, '/v1/files/a/b.txt');
    const head = await rawRequest(`${base}/v1/jobs/7`, { method: 'HEAD', headers: { 'x-api-key': c.key } });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(await usedBy(c.key), 3);
  });
});

describe('gateway: what is refused, and never reaches the upstream', () => {
  test('429 rate_limited over the per-minute limit, with Retry-After and RateLimit', async () => {
    const c = await setupCustomer(admin, { ratePerMinute: 2 });
    assert.equal((await post('/v3/text', c.key)).status, 200);
    assert.equal((await post('/v3/text', c.key)).status, 200);
    const before = upstream.count('/v3/text');
    const res = await post('/v3/text', c.key);
    assert.equal(res.status, 429);
    assert.equal(res.body.error, 'rate_limited');
    assert.match(res.body.message, /Rate limit of 2 units per minute for group ".*" exceeded. Retry in \d+ seconds/);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.match(res.headers.get('ratelimit')!, /"minute";r=0;/);
    assert.equal(upstream.count('/v3/text'), before);
  });

  test('429 quota_exceeded over the monthly quota; a reservation larger than what is left is refused', async () => {
    const c = await setupCustomer(admin, { monthlyQuota: 4 });
    assert.equal((await post('/v1/pdf', c.key, { 'x-pages': '3' })).status, 200);
    const before = upstream.count('/v1/ocr');
    const res = await post('/v1/ocr', c.key, { 'x-test-pages': '1' });
    assert.equal(res.status, 429);
    assert.equal(res.body.error, 'quota_exceeded');
    assert.match(res.body.message, /Monthly quota of 4 units for group ".*" exceeded; it resets at /);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.equal(upstream.count('/v1/ocr'), before);
    assert.equal((await post('/v3/text', c.key)).status, 200, 'one unit still fits');
    assert.equal(await usedBy(c.key), 4);
  });

  test('402 insufficient_credits when the balance cannot cover the call, without Retry-After; the upstream is not called', async () => {
    const c = await setupCustomer(admin, {});
    assert.equal((await admin.patch(`/admin/plans/${c.planId}`, { credits: { per_unit: { '*': 2 } } })).status, 200);
    assert.equal((await admin.post(`/admin/groups/${c.groupId}/grants`, { amount: 3 })).status, 201);
    assert.equal((await post('/v3/text', c.key)).status, 200, '2 credits, 1 left');
    const before = upstream.count('/v3/text');
    const res = await post('/v3/text', c.key);
    assert.equal(res.status, 402);
    assert.equal(res.body.error, 'insufficient_credits');
    assert.match(res.body.message, /The balance of 1 credits of group ".*" cannot cover this call/);
    assert.equal(res.headers.get('retry-after'), null, 'waiting brings no credits');
    assert.equal(upstream.count('/v3/text'), before);
    assert.equal(await usedBy(c.key), 1);
  });

  test('401 for a missing, unknown or revoked key, or a key with another app_id', async () => {
    const c = await setupCustomer(admin);
    const before = upstream.count('/v3/text');
    const attempts: Array<Record<string, string>> = [{}, { 'x-api-key': 'tg_unknown' }, { app_id: 'other-app', app_key: c.key }, { authorization: 'Bearer not-a-customer-key' }];
    for (const headers of attempts) {
      const res = await request(`${base}/v3/text`, { method: 'POST', headers, body: {} });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.body.error, 'unauthorized');
      assert.equal(typeof res.body.message, 'string');
    }
    await admin.delete(`/admin/keys/${c.keyId}`);
    const revoked = await post('/v3/text', c.key);
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.message, /revoked/);
    assert.equal(upstream.count('/v3/text'), before);
  });
});

describe('gateway: what the upstream sees', () => {
  test('the secret and hop-by-hop headers are stripped; trusted identity headers are set and cannot be spoofed', async () => {
    const c = await setupCustomer(admin);
    const res = await rawRequest(`${base}/v3/text?formats=text`, {
      method: 'POST',
      headers: {
        'x-api-key': c.key,
        'app_id': 'spoofed-app',
        'x-tollgate-app-id': 'spoofed-app',
        'x-tollgate-group-id': 'spoofed-group',
        'x-tollgate-anything': 'spoofed',
        authorization: 'Basic dXBzdHJlYW06c2VjcmV0',
        connection: 'keep-alive, x-hop',
        'x-hop': 'per-connection',
        'keep-alive': 'timeout=5',
        'x-forwarded-for': '203.0.113.7',
        'x-custom': 'kept',
        'content-type': 'application/json',
      },
      body: '{"text": "hi"}',
    });
    assert.equal(res.status, 200, res.text);
    const seen = upstream.calls.at(-1)!;
    assert.equal(seen.url, '/v3/text?formats=text');
    assert.equal(seen.headers['x-api-key'], undefined);
    assert.equal(seen.headers.app_id, undefined);
    assert.equal(seen.headers['x-tollgate-app-id'], c.appId);
    assert.equal(seen.headers['x-tollgate-group-id'], c.groupId);
    assert.equal(seen.headers['x-tollgate-key-id'], c.keyId);
    assert.equal(seen.headers['x-tollgate-anything'], undefined);
    assert.equal(seen.headers.authorization, 'Basic dXBzdHJlYW06c2VjcmV0', 'an Authorization that is not the customer key is the upstream\'s');
    assert.equal(seen.headers['x-hop'], undefined);
    assert.equal(seen.headers['keep-alive'], undefined);
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers.host, new URL(upstream.url).host);
    assert.equal(seen.body, '{"text": "hi"}');
    assert.ok(!JSON.stringify(seen.headers).includes(c.key), 'the key appears nowhere');
  });

  test('an Authorization header carrying the customer key is stripped', async () => {
    const c = await setupCustomer(admin);
    await rawRequest(`${base}/v3/text`, { method: 'POST', headers: { authorization: `Bearer ${c.key}` }, body: 'x' });
    const seen = upstream.calls.at(-1)!;
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['x-tollgate-key-id'], c.keyId);
  });

  test('bodies go through unparsed: invalid JSON, text, and more than the JSON body limit', async () => {
    const c = await setupCustomer(admin);
    const broken = await rawRequest(`${base}/v3/text`, { method: 'POST', headers: { 'x-api-key': c.key, 'content-type': 'application/json' }, body: '{"not json' });
    assert.equal(broken.status, 200);
    assert.equal(upstream.calls.at(-1)!.body, '{"not json');
    const big = 'x'.repeat(3 * 1024 * 1024);
    const large = await rawRequest(`${base}/v1/upload`, { method: 'POST', headers: { 'x-api-key': c.key, 'content-type': 'application/json' }, body: big });
    assert.equal(large.status, 200);
    assert.equal(JSON.parse(large.text).bytes, big.length);
    // A chunked upload without a Content-Type (undici may send it with a Content-Length when it has all arrived).
    const chunked = await rawRequest(`${base}/v1/upload`, { method: 'POST', headers: { 'x-api-key': c.key, 'transfer-encoding': 'chunked' }, body: Readable.from(['one ', 'two ', 'three']) });
    assert.equal(chunked.status, 200, chunked.text);
    assert.equal(upstream.calls.at(-1)!.body, 'one two three');
    // Tollgate's own routes still parse their JSON and refuse text.
    assert.equal((await admin.post('/v1/check', { key: c.key, usage_type: 'image' })).body.allowed, true);
    const text = await request(`${base}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(text.status, 415);
  });

  test('the route prefix of the upstream URL and the query string are kept', async () => {
    const c = await setupCustomer(admin);
    const res = await request(`${base}/v1/jobs/42?verbose=1`, { headers: { 'x-api-key': c.key } });
    assert.equal(res.status, 200);
    assert.equal(upstream.calls.at(-1)!.url, '/base/v1/jobs/42?verbose=1');
  });
});

describe('gateway: request ids and metrics', () => {
  test("the request id reaches the upstream and comes back, the caller's or a new one", async () => {
    const c = await setupCustomer(admin);
    const traced = await post('/v3/text', c.key, { 'x-request-id': 'job-81.retry-2' });
    assert.equal(traced.headers.get('x-request-id'), 'job-81.retry-2');
    assert.equal(upstream.calls.at(-1)!.headers['x-request-id'], 'job-81.retry-2');
    const fresh = await post('/v3/text', c.key, { 'x-request-id': 'not plain; at all' });
    assert.match(fresh.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
    assert.equal(upstream.calls.at(-1)!.headers['x-request-id'], fresh.headers.get('x-request-id'));
  });

  test("the gateway's checks are counted by outcome with source gateway", async () => {
    const scrape = async () => (await request(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body as string;
    const value = (text: string, series: string) => Number(text.split('\n').find((line) => line.startsWith(`${series} `))?.split(' ')[1] ?? 0);
    const count = (text: string, outcome: string) => value(text, `tollgate_checks_total{outcome="${outcome}",source="gateway"}`);
    const refusedCalls = 'tollgate_http_request_duration_seconds_count{method="POST",route="/v3/text",status_class="4xx"}';
    const c = await setupCustomer(admin, { ratePerMinute: 1 });
    const before = await scrape();
    assert.equal((await post('/v3/text', c.key)).status, 200);
    assert.equal((await post('/v3/text', c.key)).status, 429);
    assert.equal((await post('/v3/text', 'tg_unknown')).status, 401);
    const text = await scrape();
    for (const outcome of ['allowed', 'rate_limited', 'unauthorized']) assert.equal(count(text, outcome) - count(before, outcome), 1, outcome);
    assert.equal(value(text, refusedCalls) - value(before, refusedCalls), 2, 'the HTTP histogram has the route pattern of the gateway');
  });
});

describe('gateway: when the upstream cannot answer', () => {
  test('an upstream that refuses connections: 502 bad_gateway, nothing counted', async () => {
    const c = await setupCustomer(admin, { monthlyQuota: 5 });
    const res = await post('/v1/down', c.key);
    assert.equal(res.status, 502);
    assert.equal(res.body.error, 'bad_gateway');
    assert.match(res.body.message, /could not be reached .*ECONNREFUSED.*not counted/);
    assert.equal(await usedBy(c.key), 0);
  });

  test('an upstream slower than the timeout: 504 gateway_timeout, nothing counted', async () => {
    const c = await setupCustomer(admin, { monthlyQuota: 5 });
    const started = Date.now();
    const res = await request(`${base}/v1/slow`, { headers: { 'x-api-key': c.key } });
    assert.equal(res.status, 504);
    assert.equal(res.body.error, 'gateway_timeout');
    assert.match(res.body.message, /did not answer within 200 ms/);
    // undici checks its timeouts every half second or so: 200 ms means "within about a second".
    assert.ok(Date.now() - started < 2500, 'answered at the timeout, not when the upstream finally did');
    assert.equal(await usedBy(c.key), 0);
  });
});

describe('gateway: Tollgate itself on the same port', () => {
  test('the seed usage endpoints, the check API and /healthz answer; gateway routes stay out of the OpenAPI document', async () => {
    const c = await setupCustomer(admin);
    await post('/v3/text', c.key);
    assert.equal((await request(`${base}/healthz`)).status, 200);
    const usage = await request(`${base}/v1/usage`, { headers: { 'x-api-key': c.key } });
    assert.equal(usage.status, 200);
    assert.equal(usage.body.monthly_used, 1);
    const ocr = await request(`${base}/v3/ocr-usage`, { headers: { app_id: c.appId, app_key: c.key } });
    assert.equal(ocr.status, 200);
    assert.equal(ocr.body.ocr_usage[0].usage_type, 'image');
    const doc = await request(`${base}/openapi.json`);
    assert.ok(doc.body.paths['/v1/check']);
    assert.equal(Object.keys(doc.body.paths).some((p) => p.startsWith('/v3/text') || p.startsWith('/v1/ocr') || p.startsWith('/v1/files')), false);
    assert.equal((await request(`${base}/v1/nothing-here`)).status, 404);
  });
});

// ------------------------------------------------------------------ the CLI, and a large upload

/** Peak resident memory of a process so far (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

describe('gateway: `tollgate serve --gateway <file>`', () => {
  test('streams a 200 MB upload to the upstream without holding it, and counts it once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-gateway-cli-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, gatewayYaml(upstream.url, await closedPort()));
    const server = await spawnServer(join(dir, 'data'), { args: ['--gateway', file], env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN } });
    try {
      assert.match(server.output(), /Gateway: 9 routes from .*gateway\.yaml/);
      const cliAdmin = adminClient(server.url);
      const c = await setupCustomer(cliAdmin);
      // Warm up the path once so that the baseline includes the code that runs.
      await rawRequest(`${server.url}/v1/upload`, { method: 'POST', headers: { 'x-api-key': c.key }, body: 'warm-up' });
      const baseline = peakRss(server.child.pid!);

      const size = 200 * 1024 * 1024;
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      let sent = 0;
      const body = new Readable({
        read() {
          if (sent >= size) return void this.push(null);
          sent += chunk.length;
          this.push(chunk);
        },
      });
      const res = await rawRequest(`${server.url}/v1/upload`, {
        method: 'POST',
        headers: { 'x-api-key': c.key, 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(JSON.parse(res.text).bytes, size);
      assert.equal(upstream.calls.at(-1)!.bytes, size);
      const growth = peakRss(server.child.pid!) - baseline;
      assert.ok(growth < 100 * 1024 * 1024, `peak RSS grew by ${Math.round(growth / 1e6)} MB for a 200 MB upload`);

      const usage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } });
      assert.equal(usage.body.monthly_used, 2);
    } finally {
      server.child.kill('SIGTERM');
      const { code, signal } = await server.exited;
      rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, `the server ended with code ${code}, signal ${signal}: ${server.errors().slice(-2000)}`);
    }
  });

  test('a bad gateway file stops the start with the line at fault', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-gateway-cli-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'routes:\n  - method: POST\n    path: /v1/check\n    upstream: http://127.0.0.1:1\n    usage_type: image\n');
    try {
      await assert.rejects(
        spawnServer(join(dir, 'data'), { args: ['--gateway', file], env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN } }),
        /gateway\.yaml line 3: routes\[0\]\.path "\/v1\/check" would take requests for Tollgate's own \/v1\/check/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
