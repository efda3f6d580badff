import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RouteOptions } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { startTollgate, type Tollgate } from '../../src/runtime.js';
import { ADMIN_TOKEN } from '../helpers/server.js';

/** Routes left out of the document on purpose: the document itself, the page that renders it, and the dashboard's page and static files. */
const DELIBERATELY_HIDDEN = /^\/(openapi\.json$|docs($|\/)|dashboard$|dashboard\/assets\/)/;

/** The routes that meter or read usage: they answer 503 while the store cannot (healthz says so too). */
const METERED_OR_USAGE = new Set(['/healthz', '/v1/check', '/v1/events', '/v1/usage', '/v3/ocr-usage', '/admin/groups/{group_id}/usage']);

interface Operation {
  security?: Array<Record<string, string[]>>;
  requestBody?: unknown;
  parameters?: Array<{ in: string; name: string }>;
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

let tollgate: Tollgate;
let dataDir: string;
const routes: RouteOptions[] = [];
let document: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

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
