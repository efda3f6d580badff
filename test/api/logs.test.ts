import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { startTollgate } from '../../src/runtime.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from '../helpers/server.js';

const METRICS_TOKEN = 'metrics-token-for-the-log-test-0123';
const WRONG_ADMIN_TOKEN = 'a-wrong-admin-token-guessed-9876543210';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('at the most verbose level, every request logs under its id and no secret reaches a log line', async () => {
  const lines: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-logs-'));
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, adminToken: ADMIN_TOKEN, metricsToken: METRICS_TOKEN, logLevel: 'trace' });
  const tollgate = await startTollgate(config, { logStream: { write: (line) => void lines.push(line) } });
  const url = tollgate.url;
  const admin = adminClient(url);
  /** Each answer's request id, to find its log lines by. */
  const requestIds: string[] = [];
  const call = async (path: string, init: Parameters<typeof request>[1] = {}) => {
    const res = await request(`${url}${path}`, init);
    const id = res.headers.get('x-request-id');
    assert.ok(id !== null, `${path} answers with X-Request-Id`);
    requestIds.push(id);
    return res;
  };
  const asAdmin = (method: string, path: string, body?: unknown) => call(path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body });

  try {
    const c = await setupCustomer(admin, { ratePerMinute: 100 });
    const second = (await asAdmin('POST', `/admin/apps/${c.appId}/keys`, { name: 'second' })).body.key as string;
    const serviceToken = (await asAdmin('POST', '/admin/service-tokens', { name: 'backend' })).body.token as string;
    const secrets = { ADMIN_TOKEN, METRICS_TOKEN, WRONG_ADMIN_TOKEN, key: c.key, second, serviceToken };

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

    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(records.length > 0);
    const text = lines.join('');
    for (const [name, secret] of Object.entries(secrets)) assert.ok(!text.includes(secret), `${name} appears in the logs`);

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
    rmSync(dataDir, { recursive: true, force: true });
  }
});
