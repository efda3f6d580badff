import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, request, type TestServer } from '../helpers/server.js';
import { startGatewayTestServer } from '../helpers/upstream.js';

// scale-out: routing answers, before any store is asked.

let server: TestServer;

before(async () => {
  server = await startGatewayTestServer((origin) => `  - method: POST
    path: /v1/ocr
    upstream: ${origin}
    usage_type: image
  - method: [GET, DELETE]
    path: /v1/jobs/:id
    upstream: ${origin}
    usage_type: job
`);
});
after(async () => server.close());

const call = (method: string, path: string, headers: Record<string, string> = {}) =>
  request(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers } });

describe('a method the path does not have: 405 with Allow', () => {
  for (const [method, path, allow] of [
    ['DELETE', '/admin/plans', 'GET, HEAD, POST'],
    ['PUT', '/admin/plans/some-plan', 'GET, HEAD, PATCH'],
    ['POST', '/admin/groups/some-group/usage', 'GET, HEAD'],
    ['GET', '/v1/check', 'POST'],
    ['PUT', '/v1/events', 'POST'],
    ['POST', '/v1/usage', 'GET, HEAD'],
    ['DELETE', '/v3/ocr-usage?timespan=month', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['PATCH', '/dashboard/session', 'DELETE, GET, HEAD, POST'],
    ['POST', '/dashboard/assets/app.js', 'GET, HEAD'],
    ['GET', '/v1/ocr', 'POST'],
    ['POST', '/v1/jobs/42', 'DELETE, GET'],
    ['OPTIONS', '/healthz', 'GET, HEAD'],
  ] as const) {
    test(`${method} ${path}: Allow ${allow}`, async () => {
      const res = await call(method, path);
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), allow);
      const bare = path.split('?')[0];
      assert.deepEqual(res.body, { error: 'method_not_allowed', message: `${method} is not allowed on ${bare}; it allows ${allow}.` });
      assert.match(res.headers.get('content-type')!, /^application\/json/);
    });
  }

  test('no credentials needed to learn it, and none are looked at', async () => {
    const res = await request(`${server.url}/admin/plans`, { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');
  });

  test('an unknown path stays 404, whatever the method', async () => {
    for (const [method, path] of [['GET', '/nope'], ['POST', '/admin/nope'], ['DELETE', '/v1/usage/extra'], ['GET', '/v1/jobs']]) {
      const res = await call(method!, path!);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), null);
      assert.deepEqual(res.body, { error: 'not_found', message: `No route for ${method} ${path}.` });
    }
  });
});
