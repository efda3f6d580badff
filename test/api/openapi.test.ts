import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RouteOptions } from 'fastify';
import Fastify from 'fastify';
import { loadConfig } from '../../src/config.js';
import { requireOperationIds } from '../../src/http/openapi.js';
import { startTollgate, type Tollgate } from '../../src/runtime.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from '../helpers/server.js';

// scale-out: the document is the same whatever the store.

/** Routes left out of the document on purpose: the document itself, the page that renders it, and the dashboard's page and static files. */
const DELIBERATELY_HIDDEN = /^\/(openapi\.json$|docs($|\/)|dashboard$|dashboard\/assets\/)/;

/** The routes that meter or read usage: they answer 503 while the store cannot (healthz says so too). */
const METERED_OR_USAGE = new Set(['/healthz', '/v1/check', '/v1/events', '/v1/usage', '/v3/ocr-usage', '/admin/groups/{group_id}/usage']);

interface Schema {
  type?: string;
  pattern?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
}

interface Operation {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: Schema }> };
  parameters?: Array<{ in: string; name: string; schema: Schema; description?: string }>;
  responses?: Record<string, { description: string; headers?: Record<string, { $ref?: string }>; content?: Record<string, { schema?: unknown }> }>;
}

let tollgate: Tollgate;
let dataDir: string;
const routes: RouteOptions[] = [];
let document: {
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; headers?: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-openapi-'));
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, adminToken: ADMIN_TOKEN, logLevel: 'silent' });
  tollgate = await startTollgate(config, { logger: false, onRoute: (route) => void routes.push(route) });
  const res = await fetch(`${tollgate.url}/openapi.json`);
  assert.equal(res.status, 200);
  document = await res.json() as typeof document;
});
after(async () => {
  await tollgate.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every method and URL registered, without the HEAD routes Fastify adds for each GET. */
function registered(): Array<{ method: string; url: string; route: RouteOptions }> {
  const all = routes.flatMap((route) => [route.method].flat().map((method) => ({ method, url: route.url, route })));
  return all.filter((r) => r.method !== 'HEAD' || !all.some((o) => o.method === 'GET' && o.url === r.url));
}

/** The statuses a route's answers can have, from what the route is: who may call it, what it reads, what it touches. */
function expectedErrors(url: string, operation: Operation): string[] {
  const statuses = ['500'];
  // A caller whose address failed to authenticate too often is refused with 429 (src/http/auth-throttle.ts).
  if ((operation.security ?? []).length > 0) statuses.push('401', '429');
  if (operation.requestBody !== undefined) statuses.push('400', '413', '415');
  const parameters = operation.parameters ?? [];
  if (parameters.some((p) => p.in === 'query')) statuses.push('400');
  if (parameters.some((p) => p.in === 'path')) statuses.push('404');
  if (METERED_OR_USAGE.has(url)) statuses.push('503');
  return [...new Set(statuses)].sort();
}

describe('the OpenAPI document', () => {
  test('describes every route that is not deliberately hidden', () => {
    const listed = registered();
    assert.ok(listed.length > 25, `the routes were heard of: ${listed.length}`);
    const hidden = listed.filter((r) => (r.route.schema as { hide?: boolean } | undefined)?.hide === true).map((r) => r.url);
    assert.deepEqual(hidden.filter((url) => !DELIBERATELY_HIDDEN.test(url)), [], 'hidden routes beyond the document and its page');
    const missing = listed
      .filter((r) => !DELIBERATELY_HIDDEN.test(r.url))
      .filter((r) => document.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()] === undefined)
      .map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(missing, []);
  });

  test('gives every operation its success answer with a schema, and each error answer it can give', () => {
    const problems: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        const responses = operation.responses ?? {};
        const success = Object.keys(responses).filter((s) => s.startsWith('2'));
        if (success.length === 0) problems.push(`${where}: no 2xx answer`);
        for (const status of success) {
          const content = responses[status]!.content;
          if (status !== '204' && (content === undefined || Object.values(content).some((c) => c.schema === undefined))) problems.push(`${where}: ${status} has no schema`);
        }
        const errors = Object.keys(responses).filter((s) => !s.startsWith('2')).sort();
        const lacking = expectedErrors(path, operation).filter((s) => !errors.includes(s));
        if (lacking.length > 0) problems.push(`${where}: no ${lacking.join(', ')}`);
        for (const status of errors) {
          const schema = responses[status]!.content?.['application/json']?.schema as { $ref?: string } | undefined;
          if (schema?.$ref !== '#/components/schemas/Error') problems.push(`${where}: ${status} is not the Error shape`);
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(document.components.schemas.Error !== undefined);
  });
});

/** Every documented operation, "METHOD /path" with its operation. */
function operations(): Array<{ where: string; operation: Operation }> {
  return Object.entries(document.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, operation]) => ({ where: `${method.toUpperCase()} ${path}`, operation })));
}

function operation(id: string): Operation {
  const found = operations().find((o) => o.operation.operationId === id);
  assert.ok(found, `operation ${id}`);
  return found.operation;
}

const CUSTOMER_SECURITY = [{ api_key: [] }, { app_id: [], app_key: [] }];

/** The operationIds published so far, by operation (a sample of the dashboard's, which are its routes' own with a prefix). */
const PUBLISHED_OPERATION_IDS: Record<string, string> = {
  'GET /healthz': 'getHealth', 'GET /metrics': 'getMetrics', 'POST /v1/check': 'check', 'POST /v1/events': 'ingestEvents',
  'GET /v1/usage': 'getUsage', 'GET /v3/ocr-usage': 'getOcrUsage', 'GET /admin/groups/{group_id}/usage': 'getGroupUsage',
  'POST /admin/plans': 'createPlan', 'GET /admin/plans': 'listPlans', 'GET /admin/plans/{plan_id}': 'getPlan', 'PATCH /admin/plans/{plan_id}': 'updatePlan',
  'POST /admin/groups': 'createGroup', 'GET /admin/groups': 'listGroups', 'GET /admin/groups/{group_id}': 'getGroup', 'PATCH /admin/groups/{group_id}': 'updateGroup',
  'POST /admin/groups/{group_id}/apps': 'createApp', 'GET /admin/groups/{group_id}/apps': 'listGroupApps', 'GET /admin/apps': 'listApps',
  'GET /admin/apps/{app_id}': 'getApp', 'PATCH /admin/apps/{app_id}': 'updateApp',
  'POST /admin/apps/{app_id}/keys': 'createKey', 'GET /admin/apps/{app_id}/keys': 'listAppKeys', 'GET /admin/keys': 'listKeys',
  'GET /admin/keys/{key_id}': 'getKey', 'DELETE /admin/keys/{key_id}': 'revokeKey',
  'POST /admin/service-tokens': 'createServiceToken', 'GET /admin/service-tokens': 'listServiceTokens', 'DELETE /admin/service-tokens/{token_id}': 'revokeServiceToken',
  'GET /admin/groups/{group_id}/statements': 'listStatements', 'GET /admin/groups/{group_id}/statements/{period}': 'getStatement',
  'GET /admin/groups/{group_id}/alert-settings': 'getAlertSettings', 'PUT /admin/groups/{group_id}/alert-settings': 'setAlertSettings',
  'POST /admin/webhooks': 'createWebhook', 'GET /admin/webhooks': 'listWebhooks', 'GET /admin/webhooks/{webhook_id}': 'getWebhook',
  'DELETE /admin/webhooks/{webhook_id}': 'deleteWebhook', 'GET /admin/groups/{group_id}/webhook-deliveries': 'listWebhookDeliveries',
  'GET /admin/webhook-deliveries/{delivery_id}': 'getWebhookDelivery', 'POST /admin/webhook-deliveries/{delivery_id}/replay': 'replayWebhookDelivery',
  'POST /dashboard/session': 'createDashboardSession', 'GET /dashboard/session': 'getDashboardSession', 'DELETE /dashboard/session': 'deleteDashboardSession',
  'GET /dashboard/api/groups-overview': 'dashboardListGroupsOverview', 'GET /dashboard/api/activity': 'dashboardGetActivity',
  'POST /dashboard/api/admin/plans': 'dashboardCreatePlan', 'GET /dashboard/api/me/v1/usage': 'dashboardGetUsage', 'GET /dashboard/api/me/v3/ocr-usage': 'dashboardGetOcrUsage',
};

describe('the OpenAPI document, for code generators and their users', () => {
  test('names every operation with its own camelCase operationId', () => {
    const all = operations();
    assert.deepEqual(all.filter((o) => !/^[a-z][A-Za-z0-9]*$/.test(o.operation.operationId ?? '')).map((o) => o.where), [], 'operations without a camelCase operationId');
    const ids = all.map((o) => o.operation.operationId);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    // Generated clients name their functions after them: a published operationId is not renamed (new ones may come).
    const named = Object.fromEntries(all.map((o) => [o.where, o.operation.operationId]));
    const missing = Object.entries(PUBLISHED_OPERATION_IDS).filter(([where, id]) => named[where] !== id);
    assert.deepEqual(missing, [], 'published operationIds renamed or gone');
  });

  test('a route registered without an operationId, or with a taken one, stops the server from starting', async () => {
    const broken = Fastify();
    requireOperationIds(broken);
    broken.get('/named', { schema: { operationId: 'getNamed' } }, async () => 'ok');
    broken.get('/unnamed', { schema: {} }, async () => 'ok');
    broken.post('/again', { schema: { operationId: 'getNamed' } }, async () => 'ok');
    broken.put('/snake', { schema: { operationId: 'put_snake' } }, async () => 'ok');
    await assert.rejects(async () => { await broken.ready(); }, (error: Error) => {
      assert.match(error.message, /GET \/unnamed has no operationId/);
      assert.match(error.message, /POST \/again: operationId "getNamed" is already GET \/named's/);
      assert.match(error.message, /PUT \/snake: operationId "put_snake" is not camelCase/);
      return true;
    });
    // Hidden routes are not documented, and the HEAD route Fastify adds beside a GET is the GET's.
    const sound = Fastify();
    requireOperationIds(sound);
    sound.get('/named', { schema: { operationId: 'getNamed' } }, async () => 'ok');
    sound.get('/hidden', { schema: { hide: true } }, async () => 'ok');
    await sound.ready();
    await sound.close();
  });

  test('says where it is served, and who may call each operation: nobody named on public routes, either credential on customer routes', async () => {
    assert.deepEqual(document.servers, [{ url: '/', description: 'The Tollgate server that serves this document.' }]);
    assert.deepEqual(operations().filter((o) => o.operation.security === undefined).map((o) => o.where), [], 'operations that do not say who may call them');
    assert.deepEqual(operations().filter((o) => o.operation.security!.length === 0).map((o) => o.where), ['GET /healthz', 'POST /dashboard/session']);
    for (const id of ['getUsage', 'getOcrUsage']) assert.deepEqual(operation(id).security, CUSTOMER_SECURITY, `${id}: x-api-key, or app_id and app_key`);
    // What the server does: each alternative alone is enough, half of one is not, and public routes need none.
    const c = await setupCustomer(adminClient(tollgate.url));
    assert.equal((await request(`${tollgate.url}/healthz`)).status, 200);
    assert.equal((await request(`${tollgate.url}/v1/usage`, { headers: { 'x-api-key': c.key } })).status, 200);
    assert.equal((await request(`${tollgate.url}/v1/usage`, { headers: { app_id: c.appId, app_key: c.key } })).status, 200);
    assert.equal((await request(`${tollgate.url}/v1/usage`, { headers: { app_id: c.appId } })).status, 401);
  });

  test('describes every answer, with its headers declared once and referenced', () => {
    const problems: string[] = [];
    for (const { where, operation: op } of operations()) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (response.description === '' || response.description === 'Default Response') problems.push(`${where} ${status}: no description`);
        const headers = response.headers ?? {};
        if (headers['X-Request-Id'] === undefined) problems.push(`${where} ${status}: no X-Request-Id`);
        if (status === '429' && headers['Retry-After'] === undefined) problems.push(`${where} 429: no Retry-After`);
        for (const [name, header] of Object.entries(headers)) {
          const ref = header.$ref?.replace('#/components/headers/', '');
          if (ref !== name || document.components.headers?.[name] === undefined) problems.push(`${where} ${status}: ${name} is not a reference to its declaration`);
        }
      }
    }
    assert.deepEqual(problems, []);
    const headersOf = (id: string, status: string) => Object.keys(operation(id).responses![status]!.headers!).sort();
    assert.deepEqual(headersOf('check', '200'), ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-Request-Id']);
    for (const id of ['getUsage', 'getOcrUsage', 'dashboardGetUsage']) {
      assert.deepEqual(headersOf(id, '200'), ['RateLimit', 'RateLimit-Policy', 'X-Request-Id'], id);
      assert.deepEqual(headersOf(id, '429'), ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-Request-Id'], id);
    }
  });

  test('the headers it declares are the ones the server sends', async () => {
    const c = await setupCustomer(adminClient(tollgate.url), { ratePerMinute: 1, monthlyQuota: 100 });
    const sent = async (path: string, headers: Record<string, string>) => (await fetch(`${tollgate.url}${path}`, { headers })).headers;
    const declared = (id: string, status: string) => Object.keys(operation(id).responses![status]!.headers!);
    const answers: Array<[string, string, Headers]> = [
      ['getHealth', '200', await sent('/healthz', {})],
      ['getUsage', '200', await sent('/v1/usage', { 'x-api-key': c.key })],
      // One call a minute: the second is refused, and says when to retry.
      ['getUsage', '429', await sent('/v1/usage', { 'x-api-key': c.key })],
      ['listPlans', '401', await sent('/admin/plans', {})],
    ];
    for (const [id, status, headers] of answers) {
      for (const name of declared(id, status)) assert.ok(headers.get(name) !== null, `${id} ${status} sends ${name}`);
    }
  });
});

describe('inputs: what the server refuses, the document refuses', () => {
  /** Whether a string schema of the document admits `value`, as far as its pattern says. */
  const admits = (schema: Schema, value: string) => schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(value);
  const param = (id: string, name: string) => operation(id).parameters!.find((p) => p.name === name)!.schema;
  const field = (id: string, name: string) => operation(id).requestBody!.content['application/json']!.schema.properties![name]!;

  test('a bad date, billing month, time zone or URL: refused by the schema, with a 400 that says what was expected', async () => {
    const admin = adminClient(tollgate.url);
    const c = await setupCustomer(admin);
    const customer = { 'x-api-key': c.key };
    const cases: Array<[string, Schema, string, () => Promise<{ status: number; body: { message: string } }>, RegExp]> = [
      ['getOcrUsage from_date', param('getOcrUsage', 'from_date'), '0', () => request(`${tollgate.url}/v3/ocr-usage?from_date=0`, { headers: customer }), /query parameter "from_date" must be an ISO 8601 date-time/],
      ['getOcrUsage to_date', param('getOcrUsage', 'to_date'), '2026-11', () => request(`${tollgate.url}/v3/ocr-usage?to_date=2026-11`, { headers: customer }), /"to_date" must be an ISO 8601 date-time/],
      ['getOcrUsage tz', param('getOcrUsage', 'tz'), '0', () => request(`${tollgate.url}/v3/ocr-usage?tz=0`, { headers: customer }), /query parameter "tz" must be an IANA time zone/],
      ['getStatement period', param('getStatement', 'period'), '0', () => admin.get(`/admin/groups/${c.groupId}/statements/0`), /path parameter "period" must be a billing month written YYYY-MM/],
      ['listStatements period', param('listStatements', 'period'), '0', () => admin.get(`/admin/groups/${c.groupId}/statements?period=0`), /query parameter "period" must be a billing month/],
      ['createPlan time_zone', field('createPlan', 'time_zone'), '0', () => admin.post('/admin/plans', { id: 'tz-zero', monthly_quota: 1, rate_limit_per_minute: 1, time_zone: '0' }), /body field "time_zone" must be an IANA time zone/],
      ['updatePlan time_zone', field('updatePlan', 'time_zone'), '0', () => admin.patch(`/admin/plans/${c.planId}`, { time_zone: '0' }), /body field "time_zone" must be an IANA time zone/],
      ['createWebhook url', field('createWebhook', 'url'), '0', () => admin.post('/admin/webhooks', { url: '0' }), /body field "url" must be an absolute/],
      ['createWebhook url', field('createWebhook', 'url'), 'ftp://example.com/hook', () => admin.post('/admin/webhooks', { url: 'ftp://example.com/hook' }), /body field "url" must be an absolute http or https URL/],
    ];
    for (const [what, schema, value, send, message] of cases) {
      assert.equal(admits(schema, value), false, `${what}: the document admits ${JSON.stringify(value)}`);
      const res = await send();
      assert.equal(res.status, 400, what);
      assert.match(res.body.message, message, what);
      assert.doesNotMatch(res.body.message, /\^|\$"|\[0-9\]/, `${what}: the message says what was expected, not the regular expression`);
    }
    assert.equal(field('createWebhook', 'url').format, 'uri');
    // What no schema can say is in the description, and the server says it too.
    assert.match(field('createKey', 'expires_at').description!, /must be in the future/);
    const past = await admin.post(`/admin/apps/${c.appId}/keys`, { expires_at: '2000-01-01T00:00:00Z' });
    assert.deepEqual([past.status, past.body.message], [400, 'body field "expires_at" must be in the future.']);
  });

  test('what the README and the seed clients send is still admitted, by the document and the server', async () => {
    const admin = adminClient(tollgate.url);
    const c = await setupCustomer(admin);
    for (const from of ['2021-01-01T00:00:00.000Z', '2026-11-01', '2026-03-08T02:30', '2026-03-08T02:30:00', '2026-01-01T00:00:00+05:30', '2026-01-01T00:00:00.123456789-0800']) {
      assert.ok(admits(param('getOcrUsage', 'from_date'), from), from);
      const res = await request(`${tollgate.url}/v3/ocr-usage?${new URLSearchParams({ from_date: from, to_date: '2027-01-01' })}`, { headers: { 'x-api-key': c.key } });
      assert.equal(res.status, 200, `${from}: ${JSON.stringify(res.body)}`);
    }
    for (const zone of ['UTC', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5', 'EST5EDT']) {
      assert.ok(admits(param('getOcrUsage', 'tz'), zone), zone);
      assert.equal((await request(`${tollgate.url}/v3/ocr-usage?tz=${encodeURIComponent(zone)}`, { headers: { 'x-api-key': c.key } })).status, 200, zone);
    }
    assert.equal((await admin.get(`/admin/groups/${c.groupId}/statements?period=${new Date().toISOString().slice(0, 7)}`)).status, 200);
    const hook = await admin.post('/admin/webhooks', { url: 'HTTPS://example.com/hooks/tollgate', group_ids: [c.groupId] });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    assert.equal(hook.body.url, 'https://example.com/hooks/tollgate');
  });
});

/** What a page served to browsers carries: a strict CSP that only this server may frame, and no type sniffing. */
function assertPageHeaders(headers: Headers, what: string) {
  const csp = headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/, `${what}: CSP`);
  assert.match(csp, /script-src 'self'(;|$)/, `${what}: scripts from this server only, none inline`);
  assert.match(csp, /frame-ancestors 'self'/, `${what}: frame-ancestors`);
  assert.match(csp, /object-src 'none'/, `${what}: no plugins`);
  assert.equal(headers.get('x-frame-options'), 'SAMEORIGIN', `${what}: X-Frame-Options`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
}

describe('the docs page', () => {
  test('/docs renders the document with assets served by this server alone', async () => {
    const page = await fetch(`${tollgate.url}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assertPageHeaders(page.headers, '/docs');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('swagger-ui-bundle.js')), html);
    assert.ok(assets.some((a) => a.endsWith('swagger-ui.css')), html);
    for (const asset of assets) {
      assert.ok(!/^(https?:)?\/\//.test(asset), `${asset} is loaded from elsewhere`);
      const res = await fetch(new URL(asset, `${tollgate.url}/docs/`));
      assert.equal(res.status, 200, asset);
      assertPageHeaders(res.headers, asset);
      assert.ok((await res.arrayBuffer()).byteLength > 0, asset);
    }
    const initializer = await (await fetch(`${tollgate.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(initializer, /resolveUrl\('\.\/json'\)/, 'the page loads the document from beside itself');
    assert.match(initializer, /validatorUrl: null/, 'and asks no online validator');
    const json = await fetch(`${tollgate.url}/docs/json`);
    assertPageHeaders(json.headers, '/docs/json');
    const shown = await json.json();
    assert.deepEqual(shown, document, 'the page shows /openapi.json');
  });
});
