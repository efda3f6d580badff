import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { ADMIN_TOKEN, adminClient, request, startTestServer, type TestServer } from '../helpers/server.js';
import { assertCheckIsolated, assertCustomerEndpointsIsolated, twoTenants, type TwoTenants } from '../conformance/isolation-scenario.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  const METRICS_TOKEN = 'metrics-token-for-isolation-0123456789';

  let server: TestServer;
  let tenants: TwoTenants;
  let serviceToken: string;
  /** What the gateway's upstream was sent. */
  const upstreamSaw: IncomingHttpHeaders[] = [];
  const upstream = createServer((req, res) => {
    upstreamSaw.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });

  before(async () => {
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const gateway = parseGatewayConfig(JSON.stringify({
      routes: [{ method: 'POST', path: '/v1/ocr', upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, usage_type: 'image' }],
    }), 'gateway.json');
    // This file sends wrong credentials on purpose, hundreds of them from one address.
    server = await startTestServer({ store, config: { authFailureLimit: 0, metricsToken: METRICS_TOKEN }, gateway });
    tenants = await twoTenants(server.url, ADMIN_TOKEN, 'emb');
    serviceToken = (await adminClient(server.url).post('/admin/service-tokens', { name: 'backend' })).body.token;
  });

  after(async () => {
    await server.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  describe("a customer never reaches another group's usage, apps or keys", () => {
    test('usage endpoints: every group_by, timespan and format, with B named in every parameter', async () => {
      await assertCustomerEndpointsIsolated(server.url, tenants);
    });

    test("the check: A's key named as B's app is refused as an unknown app would be, and counts for no one", async () => {
      await assertCheckIsolated(server.url, ADMIN_TOKEN, tenants);
    });

    test("the gateway: A's key as B's app is refused as an unknown app; the upstream hears A, whatever the client claims", async () => {
      const { a, b } = tenants;
      const call = (headers: Record<string, string>) => request(`${server.url}/v1/ocr`, { method: 'POST', headers, body: {} });
      const asBApp = await call({ app_id: b.appIds[0], app_key: a.key });
      const asNoApp = await call({ app_id: 'app-that-does-not-exist', app_key: a.key });
      assert.equal(asBApp.status, 401);
      assert.deepEqual(asBApp.body, asNoApp.body);
      assert.equal(upstreamSaw.length, 0, 'refused calls never reach the upstream');

      const spoofed = await call({ 'x-api-key': a.key, 'x-tollgate-group-id': b.groupId, 'x-tollgate-app-id': b.appIds[0], app_id: b.appIds[0] });
      assert.equal(spoofed.status, 200);
      assert.equal(upstreamSaw.length, 1);
      assert.equal(upstreamSaw[0]!['x-tollgate-group-id'], a.groupId);
      assert.equal(upstreamSaw[0]!['x-tollgate-app-id'], a.appIds[0]);
      const bUsage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': b.key } });
      assert.equal(bUsage.body.monthly_used, b.units, 'the call counted for A, not B');
      const aUsage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': a.key } });
      assert.equal(aUsage.body.monthly_used, a.units + 1);
      a.units += 1;
    });
  });

  /** A path of the document with its parameters filled: with ids that exist, or with ids that do not. */
  function fill(path: string, ids: Record<string, string>): string {
    return path.replace(/\{(\w+)\}/g, (_m, name: string) => ids[name] ?? `no-such-${name}`);
  }

  describe('the admin API is closed without the admin token', () => {
    test('every /admin route of the document answers the same 401 to no token, a customer key, a service token and the metrics token, whether its ids exist or not', async () => {
      const document = (await request(`${server.url}/openapi.json`)).body as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
      const admin = adminClient(server.url);
      const webhook = await admin.post('/admin/webhooks', { url: 'https://example.com/hook', group_ids: [tenants.b.groupId] });
      assert.equal(webhook.status, 201);
      const existing: Record<string, string> = {
        plan_id: 'iso-plan-emb', group_id: tenants.b.groupId, app_id: tenants.b.appIds[0], key_id: tenants.b.keyId,
        token_id: (await admin.get('/admin/service-tokens')).body.items[0].token_id, webhook_id: webhook.body.id,
        delivery_id: 'dlv_0000000000000000000', period: new Date().toISOString().slice(0, 7),
      };
      // A period well formed but before the group existed, so that its statement is a 404 too.
      const missing = { period: '1999-01' };
      const credentials: Array<[string, Record<string, string>]> = [
        ['no credential', {}],
        ['a customer key as bearer', { authorization: `Bearer ${tenants.a.key}` }],
        ['a customer key as x-api-key', { 'x-api-key': tenants.a.key }],
        ['a customer key as app_id + app_key', { app_id: tenants.a.appIds[0], app_key: tenants.a.key }],
        ['a service token', { authorization: `Bearer ${serviceToken}` }],
        ['the metrics token', { authorization: `Bearer ${METRICS_TOKEN}` }],
        ['a malformed authorization', { authorization: 'Basic YWRtaW46YWRtaW4=' }],
      ];
      const routes = Object.entries(document.paths).filter(([path]) => path.startsWith('/admin/'))
        .flatMap(([path, operations]) => Object.entries(operations).map(([method, operation]) => ({ path, method: method.toUpperCase(), body: operation.requestBody !== undefined })));
      assert.ok(routes.length >= 30, `the document lists the admin routes: ${routes.length}`);

      // With the admin token the ids make a difference (200 or 404): without it, none may show.
      const distinguishing = routes.filter((r) => r.method === 'GET' && /\{/.test(r.path) && !r.path.includes('{delivery_id}'));
      assert.ok(distinguishing.length >= 8);
      for (const route of distinguishing) {
        assert.equal((await admin.get(fill(route.path, existing))).status, 200, `GET ${route.path}: the ids exist`);
        assert.equal((await admin.get(fill(route.path, missing))).status, 404, `GET ${route.path}: the ids do not`);
      }

      let expected: unknown;
      for (const route of routes) {
        for (const [name, headers] of credentials) {
          const answers = [];
          for (const ids of [existing, missing]) {
            const res = await fetch(`${server.url}${fill(route.path, ids)}`, {
              method: route.method,
              headers: { ...headers, ...(route.body ? { 'content-type': 'application/json' } : {}) },
              ...(route.body ? { body: '{}' } : {}),
            });
            const headerNames = [...res.headers.keys()].filter((h) => h !== 'date' && h !== 'x-request-id').sort();
            answers.push({ status: res.status, body: await res.json(), headers: headerNames, length: res.headers.get('content-length') });
          }
          const [ofExisting, ofMissing] = answers;
          assert.equal(ofExisting!.status, 401, `${route.method} ${route.path} with ${name}: ${JSON.stringify(ofExisting!.body)}`);
          assert.deepEqual(ofMissing, ofExisting, `${route.method} ${route.path} with ${name}: the answer says nothing of whether the ids exist`);
          expected ??= ofExisting;
          assert.deepEqual(ofExisting, expected, `${route.method} ${route.path} with ${name}: the same 401 as every other route`);
        }
      }
      assert.deepEqual((expected as { body: unknown }).body, {
        error: 'unauthorized', message: 'Missing or invalid admin token: send "Authorization: Bearer <admin token>".',
      });
    });

    test('service tokens open the metering APIs they are for, and nothing else with credentials', async () => {
      const asService = { authorization: `Bearer ${serviceToken}` };
      const check = await request(`${server.url}/v1/check`, { method: 'POST', headers: asService, body: { key: tenants.a.key, usage_type: 'pdf' } });
      assert.equal(check.status, 200);
      assert.equal(check.body.allowed, true);
      tenants.a.units += 1;
      const events = await request(`${server.url}/v1/events`, { method: 'POST', headers: asService, body: [{ id: 'iso-evt-1', app_id: tenants.a.appIds[0], usage_type: 'pdf' }] });
      assert.equal(events.status, 200);
      assert.equal(events.body.accepted, 1);
      tenants.a.units += 1;
      assert.equal((await request(`${server.url}/metrics`, { headers: asService })).status, 401);
      assert.equal((await request(`${server.url}/v1/usage`, { headers: asService })).status, 401);
      assert.equal((await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': serviceToken } })).status, 401);
    });
  });
});
