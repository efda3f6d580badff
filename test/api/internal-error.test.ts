import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminClient, request, setupCustomer, startTestServer } from '../helpers/server.js';

// scale-out: pulls the SQLite store out from under the server; PostgreSQL and Redis outages are in test/stores/scale-out/outages.test.ts.

test('a fault in the store: 500 internal_error that reveals nothing; /healthz says 503', async () => {
  const server = await startTestServer();
  const admin = adminClient(server.url);
  const c = await setupCustomer(admin);
  assert.equal((await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } })).status, 200);
  // Pull the database out from under the running server.
  await server.tollgate.services.store.close();
  const res = await request(`${server.url}/v3/ocr-usage`, { headers: { 'x-api-key': c.key } });
  assert.equal(res.status, 500);
  assert.deepEqual(res.body, { error: 'internal_error', message: 'An unexpected server error occurred.' });
  const health = await request(`${server.url}/healthz`);
  assert.equal(health.status, 503);
  assert.equal(health.body.error, 'unavailable');
  await server.close();
});
