import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { startTollgate } from '../../src/runtime.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from '../helpers/server.js';

// scale-out: the log lines of the HTTP layer; the scale-out store's secrets at rest are in test/stores/scale-out/security.test.ts.

const METRICS_TOKEN = 'metrics-token-for-the-log-test-0123';
const WRONG_ADMIN_TOKEN = 'a-wrong-admin-token-guessed-9876543210';
const WRONG_SERVICE_TOKEN = 'a-wrong-service-token-guessed-5432109876';
const WEBHOOK_SERVER_SECRET = 'webhook-server-secret-for-the-log-test-0123456789';
/** Customer keys as a careless or hostile caller sends them: with odd characters, and far too long. */
const MALFORMED_KEY = 'tg_malformed<key>"with spaces';
const LONG_KEY = `tg_${'L0ngKey'.repeat(60)}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('at the most verbose level, every request logs under its id and no secret reaches a log line', async () => {
  const lines: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-logs-'));
  const upstream = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const gateway = parseGatewayConfig(JSON.stringify({
    routes: [{ method: 'POST', path: '/v1/ocr', upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, usage_type: 'image' }],
  }), 'gateway.json');
  // A low failure limit, so that the throttle's refusals and its warning are logged too.
  const config = loadConfig({}, {
    host: '127.0.0.1', port: 0, dataDir, adminToken: ADMIN_TOKEN, metricsToken: METRICS_TOKEN, logLevel: 'trace',
    webhookSecret: WEBHOOK_SERVER_SECRET, authFailureLimit: 12,
  });
  const tollgate = await startTollgate(config, { logStream: { write: (line) => void lines.push(line) }, gateway });
  const url = tollgate.url;
  const admin = adminClient(url);
  /** Each answer's request id, to find its log lines by. */
  const requestIds: string[] = [];
  /** Every answer that refused something: none may carry a secret back, not even the caller's own. */
  const refusals: string[] = [];
  const call = async (path: string, init: Parameters<typeof request>[1] = {}) => {
    const res = await request(`${url}${path}`, init);
    const id = res.headers.get('x-request-id');
    assert.ok(id !== null, `${path} answers with X-Request-Id`);
    requestIds.push(id);
    if (res.status >= 400 || (res.body as { allowed?: boolean }).allowed === false) refusals.push(JSON.stringify(res.body));
    return res;
  };
  const asAdmin = (method: string, path: string, body?: unknown) => call(path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body });

  try {
    const c = await setupCustomer(admin, { ratePerMinute: 100 });
    const second = (await asAdmin('POST', `/admin/apps/${c.appId}/keys`, { name: 'second' })).body.key as string;
    const serviceToken = (await asAdmin('POST', '/admin/service-tokens', { name: 'backend' })).body.token as string;
    const webhook = await asAdmin('POST', '/admin/webhooks', { url: 'http://127.0.0.1:9/hook', group_ids: [c.groupId] });
    assert.equal(webhook.status, 201);
    const secrets = {
      ADMIN_TOKEN, METRICS_TOKEN, WRONG_ADMIN_TOKEN, WRONG_SERVICE_TOKEN, WEBHOOK_SERVER_SECRET, MALFORMED_KEY, LONG_KEY,
      key: c.key, second, serviceToken, signingSecret: webhook.body.secret as string,
    };

    // Checks with every kind of credential, in the body and in headers.
    assert.equal((await asAdmin('POST', '/v1/check', { key: c.key, usage_type: 'image' })).body.allowed, true);
    const viaServiceToken = await call('/v1/check', {
      method: 'POST', headers: { authorization: `Bearer ${serviceToken}` }, body: { app_id: c.appId, app_key: second, usage_type: 'image' },
    });
    assert.equal(viaServiceToken.body.allowed, true);
    assert.equal((await call('/v1/usage', { headers: { 'x-api-key': c.key } })).status, 200);
    assert.equal((await call('/v3/ocr-usage', { headers: { app_id: c.appId, app_key: second } })).status, 200);
    assert.equal((await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200);
    // Failed authentication, malformed and invalid bodies that carry a secret.
    assert.equal((await call('/admin/plans', { headers: { authorization: `Bearer ${WRONG_ADMIN_TOKEN}` } })).status, 401);
    assert.equal((await call('/v1/check', { method: 'POST', headers: { authorization: `Bearer ${WRONG_ADMIN_TOKEN}` }, body: { key: c.key, usage_type: 'image' } })).status, 401);
    assert.equal((await asAdmin('POST', '/v1/check', `{"key": "${c.key}", "usage_type": `)).status, 400);
    assert.equal((await asAdmin('POST', '/v1/check', { key: c.key, usage_type: 'not a usage type!' })).status, 400);
    // Failed sign-ins of every kind, and keys that are malformed or too long: refused without being repeated back.
    assert.equal((await call('/v1/events', { method: 'POST', headers: { authorization: `Bearer ${WRONG_SERVICE_TOKEN}` }, body: [] })).status, 401);
    assert.equal((await call('/metrics', { headers: { authorization: `Bearer ${WRONG_SERVICE_TOKEN}` } })).status, 401);
    assert.equal((await call('/v1/usage', { headers: { 'x-api-key': MALFORMED_KEY } })).status, 401);
    assert.equal((await call('/v3/ocr-usage', { headers: { app_id: c.appId, app_key: LONG_KEY } })).status, 401);
    assert.equal((await call('/v3/ocr-usage', { headers: { app_id: MALFORMED_KEY, app_key: c.key } })).status, 401);
    assert.equal((await asAdmin('POST', '/v1/check', { key: LONG_KEY, usage_type: 'image' })).status, 400);
    assert.equal((await asAdmin('POST', '/v1/check', { key: MALFORMED_KEY, usage_type: 'image' })).body.code, 'unauthorized');
    assert.equal((await asAdmin('POST', '/v1/check', { app_id: MALFORMED_KEY, app_key: c.key, usage_type: 'image' })).body.code, 'unauthorized');
    assert.equal((await asAdmin('POST', '/v1/check', { key: c.key, usage_type: 'image', unknown_field: c.key })).status, 400);
    assert.equal((await call(`/admin/keys/${c.key}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 404);
    // The gateway: a call with the key in each place it takes one, and with a wrong one.
    assert.equal((await call('/v1/ocr', { method: 'POST', headers: { 'x-api-key': c.key }, body: {} })).status, 200);
    assert.equal((await call('/v1/ocr', { method: 'POST', headers: { authorization: `Bearer ${second}` }, body: {} })).status, 200);
    assert.equal((await call('/v1/ocr', { method: 'POST', headers: { app_id: c.appId, app_key: MALFORMED_KEY }, body: {} })).status, 401);

    await asAdmin('DELETE', `/admin/keys/${c.keyId}`);
    assert.equal((await call('/v1/usage', { headers: { 'x-api-key': c.key } })).status, 401);

    // The caller's id is kept when it is plain, replaced when it is not.
    const traced = await call('/v1/usage', { headers: { 'x-api-key': second, 'x-request-id': 'trace-7f3a.b:c' } });
    assert.equal(traced.headers.get('x-request-id'), 'trace-7f3a.b:c');
    const odd = await call('/healthz', { headers: { 'x-request-id': 'two words"\\' } });
    assert.match(odd.headers.get('x-request-id')!, UUID);
    assert.match((await call('/no/such/route')).headers.get('x-request-id')!, UUID, 'a 404 has one too');

    // A fault: the store is gone. The 500 is logged with the request's id.
    await tollgate.services.store.close();
    const failed = await asAdmin('POST', '/v1/check', { key: second, usage_type: 'image' });
    assert.equal(failed.status, 500);

    // Wrong tokens up to the throttle's limit, then refused: the warning names the address, never a credential.
    let refused;
    for (let i = 0; i < 12 && refused === undefined; i++) {
      const res = await call('/admin/plans', { headers: { authorization: `Bearer ${WRONG_ADMIN_TOKEN}` } });
      if (res.status === 429) refused = res;
    }
    assert.ok(refused !== undefined, 'the address is refused after the failure limit');

    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(records.length > 0);
    const text = lines.join('');
    for (const [name, secret] of Object.entries(secrets)) assert.ok(!text.includes(secret), `${name} appears in the logs: ${lines.filter((l) => l.includes(secret)).join("")}`);
    assert.ok(refusals.length >= 20, `the refusals were seen: ${refusals.length}`);
    for (const body of refusals) {
      for (const [name, secret] of Object.entries(secrets)) assert.ok(!body.includes(secret), `${name} is repeated in an error answer: ${body}`);
    }
    assert.ok(records.some((r) => r.level === 40 && String(r.msg).startsWith('authentication: too many failures') && r.ip === '127.0.0.1'), 'the refusal is logged as a warning');

    const completed = records.filter((r) => r.msg === 'request completed');
    for (const id of requestIds) {
      assert.equal(completed.filter((r) => r.reqId === id).length, 1, `request ${id} is logged once, under its id`);
    }
    assert.ok(records.filter((r) => r.reqId === undefined).every((r) => r.req === undefined && r.res === undefined), 'no request logs without its id');
    const fault = records.find((r) => r.level === 50 && r.msg === 'request failed');
    assert.ok(fault !== undefined, 'the 500 is logged as an error');
    assert.equal(fault.reqId, failed.headers.get('x-request-id'));
    assert.ok((fault.err as { stack?: string }).stack !== undefined, 'with its stack');
    const line = completed.find((r) => r.reqId === traced.headers.get('x-request-id'))!;
    assert.deepEqual({ method: line.method, path: line.path, route: line.route, status: line.status }, { method: 'GET', path: '/v1/usage', route: '/v1/usage', status: 200 });
  } finally {
    await tollgate.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    rmSync(dataDir, { recursive: true, force: true });
  }
});
