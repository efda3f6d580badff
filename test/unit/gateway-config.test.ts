import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GatewayConfigError, loadGatewayConfig, parseGatewayConfig, type GatewayConfig } from '../../src/gateway/config.js';

/** The problems a gateway file is refused for (fails when it is accepted). */
function problems(text: string, source = 'gateway.yaml'): string[] {
  try {
    parseGatewayConfig(text, source);
  } catch (error) {
    assert.ok(error instanceof GatewayConfigError, String(error));
    assert.equal(error.message, error.problems.join('\n'));
    return error.problems;
  }
  assert.fail('the file was accepted');
}

const ROUTE = (extra = '', path = '/v3/text') => `  - method: POST
    path: ${path}
    upstream: http://127.0.0.1:9000
    usage_type: image
${extra}`;

describe('gateway file: what is accepted', () => {
  test('the README example, every option', () => {
    const config = parseGatewayConfig(`upstream_timeout_ms: 30000     # optional default
routes:
  - method: POST
    path: /v3/text
    upstream: http://127.0.0.1:9000
    usage_type: image
    cost: { fixed: 1 }
    count_statuses: 2xx
    request_args: { headers: [X-Format], query: [formats] }
  - method: [get, HEAD]
    path: /v1/jobs/:id
    upstream: https://api.internal.example/base/
    usage_type: pdf
    cost: { request_header: x-pages, default: 2 }
    count_statuses: [200, "3xx"]
    timeout_ms: 1500
  - method: "*"
    path: /v1/files/*
    upstream: http://127.0.0.1:9001
    usage_type: ocr
    cost: { response_header: X-Pages-Processed, reserve: 10 }
    count_statuses: "2xx,404"
`, 'gateway.yaml');
    const expected: GatewayConfig = {
      source: 'gateway.yaml',
      routes: [
        {
          index: 0, line: 3, methods: ['POST'], path: '/v3/text',
          upstream: { origin: 'http://127.0.0.1:9000', basePath: '' }, usageType: 'image',
          cost: { kind: 'fixed', units: 1 }, countStatuses: { classes: [2], codes: [] },
          requestArgs: { headers: ['x-format'], query: ['formats'] }, timeoutMs: 30_000,
        },
        {
          index: 1, line: 10, methods: ['GET', 'HEAD'], path: '/v1/jobs/:id',
          upstream: { origin: 'https://api.internal.example', basePath: '/base' }, usageType: 'pdf',
          cost: { kind: 'request_header', header: 'x-pages', default: 2 }, countStatuses: { classes: [3], codes: [200] },
          requestArgs: { headers: [], query: [] }, timeoutMs: 1500,
        },
        {
          index: 2, line: 17, methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], path: '/v1/files/*',
          upstream: { origin: 'http://127.0.0.1:9001', basePath: '' }, usageType: 'ocr',
          cost: { kind: 'response_header', header: 'x-pages-processed', reserve: 10 }, countStatuses: { classes: [2], codes: [404] },
          requestArgs: { headers: [], query: [] }, timeoutMs: 30_000,
        },
      ],
    };
    assert.deepEqual(config, expected);
  });

  test('defaults: cost 1 unit, 2xx counts, 30 s timeout, no request_args', () => {
    const [route] = parseGatewayConfig(`routes:\n${ROUTE()}`, 'gateway.yml').routes;
    assert.deepEqual(route!.cost, { kind: 'fixed', units: 1 });
    assert.deepEqual(route!.countStatuses, { classes: [2], codes: [] });
    assert.equal(route!.timeoutMs, 30_000);
    assert.deepEqual(route!.requestArgs, { headers: [], query: [] });
  });

  test('JSON, read from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-gateway-config-'));
    try {
      const file = join(dir, 'gateway.json');
      writeFileSync(file, JSON.stringify({ routes: [{ method: 'POST', path: '/v1/pdf', upstream: 'http://127.0.0.1:9000', usage_type: 'pdf', cost: { response_header: 'x-pages' } }] }, null, 2));
      const config = loadGatewayConfig(file);
      assert.equal(config.source, file);
      assert.deepEqual(config.routes[0]!.cost, { kind: 'response_header', header: 'x-pages', reserve: 1 });
      assert.equal(config.routes[0]!.line, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gateway file: YAML problems name the line and the field', () => {
  test('a wrong type', () => {
    const text = `# gateway
upstream_timeout_ms: 30000
routes:
  - method: POST
    path: /v3/text
    upstream: http://127.0.0.1:9000
    usage_type: image
  - method: POST
    path: /v3/pdf
    upstream: http://127.0.0.1:9000
    usage_type: pdf
    cost:
      response_header: 12
`;
    assert.deepEqual(problems(text), ['gateway.yaml line 13: routes[1].cost.response_header must be a string']);
  });

  test('missing, unknown and out-of-range fields, each on its own line, in file order', () => {
    const text = `routes:
  - method: POST
    path: /v3/text
    usage_type: image
    colour: blue
    timeout_ms: 0
`;
    assert.deepEqual(problems(text), [
      'gateway.yaml line 2: routes[0].upstream is required',
      'gateway.yaml line 5: routes[0].colour is not a recognised field (expected one of: method, path, upstream, usage_type, cost, count_statuses, request_args, timeout_ms)',
      'gateway.yaml line 6: routes[0].timeout_ms must be at least 1',
    ]);
  });

  test('values the schema cannot judge alone', () => {
    const text = `routes:
  - method: [GET, FETCH]
    path: v1/text
    upstream: ftp://files.example
    usage_type: image
    cost: { fixed: 1, response_header: x-pages }
    count_statuses: "2xx,7xx"
    request_args: { headers: [X-Api-Key, formats], query: [formats] }
`;
    assert.deepEqual(problems(text), [
      'gateway.yaml line 2: routes[0].method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, a list of them, or "*", got "FETCH"',
      'gateway.yaml line 3: routes[0].path must start with "/", got "v1/text"',
      'gateway.yaml line 4: routes[0].upstream must be an http:// or https:// URL, got "ftp://files.example"',
      'gateway.yaml line 6: routes[0].cost must give only one of fixed, request_header or response_header, got fixed and response_header',
      'gateway.yaml line 7: routes[0].count_statuses must be a status code (100 to 599) or a class such as "2xx", got "7xx"',
      'gateway.yaml line 8: routes[0].request_args.headers[0] names "x-api-key", which carries credentials and cannot be a request argument',
      'gateway.yaml line 8: routes[0].request_args.headers[1] names "formats", which is also a query field: request_args names must be distinct',
    ]);
  });

  test("routes that would take Tollgate's own paths are refused", () => {
    for (const [path, own] of [['/v1/check', '/v1/check'], ['/v1/:resource', '/v1/check'], ['/v3/*', '/v3/ocr-usage'], ['/admin/plans', '/admin API'],
      ['/admin/*', '/admin API'], ['/:page', '/healthz'], ['/*', '/v1/check'], ['/openapi.json', '/openapi.json'], ['/metrics', '/metrics'],
      ['/docs/static/:file', '/docs'], ['/docs', '/docs'], ['/dashboard', '/dashboard'], ['/dashboard/*', '/dashboard'], ['/dashboard/api/:x', '/dashboard']] as const) {
      const [problem] = problems(`routes:\n${ROUTE('', path)}`);
      assert.equal(problem, `gateway.yaml line 3: routes[0].path "${path}" would take requests for Tollgate's own ${own}; gateway routes may not overlap /v1/check, /v1/usage, /v3/ocr-usage, /v1/events, /healthz, /metrics, /openapi.json, /admin, /docs, /dashboard, /admin/*, /docs/* or /dashboard/*`);
    }
    // Near misses are fine.
    parseGatewayConfig(`routes:\n${ROUTE('', '/v1/checks')}${ROUTE('', '/administration')}${ROUTE('', '/v1/usage/:id')}${ROUTE('', '/documents')}${ROUTE('', '/dashboards')}`, 'gateway.yaml');
  });

  test('the same method and path twice', () => {
    assert.deepEqual(problems(`routes:\n${ROUTE('', '/v1/jobs/:id')}${ROUTE('', '/v1/jobs/:job')}`), [
      'gateway.yaml line 7: routes[1].path POST /v1/jobs/:job is already routed by routes[0]',
    ]);
  });

  test('a syntax error, an empty file, an empty route list', () => {
    assert.deepEqual(problems('routes:\n  - method: POST\n    path: [/v3/text\n'), ['gateway.yaml line 4: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']);
    assert.deepEqual(problems(''), ['gateway.yaml: the file is empty; it needs a "routes" list']);
    assert.deepEqual(problems('routes: []\n'), ['gateway.yaml line 1: routes must have at least 1 item']);
    assert.deepEqual(problems('- just a list\n'), ['gateway.yaml line 1: the file must be a mapping of fields']);
  });
});

describe('gateway file: JSON problems name the field (and the line)', () => {
  test('a bad field', () => {
    const text = JSON.stringify({ routes: [{ method: 'POST', path: '/v1/pdf', upstream: 'http://127.0.0.1:9000', usage_type: 'pdf', cost: { fixed: 0 } }] }, null, 2);
    assert.deepEqual(problems(text, 'gateway.json'), ['gateway.json line 9: routes[0].cost.fixed must be at least 1']);
  });

  test('a syntax error', () => {
    const [problem] = problems('{\n  "routes": [\n    {"method": "POST",, }\n  ]\n}\n', 'gateway.json');
    assert.match(problem!, /^gateway\.json line 3: not valid JSON: /);
  });

  test('a file that cannot be read', () => {
    assert.throws(() => loadGatewayConfig('/nonexistent/gateway.json'), (error: unknown) =>
      error instanceof GatewayConfigError && error.message === '/nonexistent/gateway.json: cannot read the gateway file (ENOENT)');
  });
});
