import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, type JsonResponse } from '../../helpers/server.js';
import { type ServerProcess } from '../../helpers/process.js';
import { scaleOutCluster } from '../../helpers/scale-out.js';

// The dashboard's sessions on the scale-out store: a cookie sealed by one
// instance opens on every instance (they share the server secret), so
// whatever ends a session must end it on every instance too.

const cluster = scaleOutCluster('dashboard-sessions');
let a: ServerProcess;
let b: ServerProcess;

before(async () => {
  [a, b] = await Promise.all([cluster.spawn(), cluster.spawn()]);
});

interface Session { cookie: string; csrf: string }

async function signIn(server: ServerProcess, token: string): Promise<Session> {
  const res = await request(`${server.url}/dashboard/session`, { method: 'POST', body: { token } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: res.body.csrf_token };
}

const get = (server: ServerProcess, session: Session, path: string) => request(`${server.url}${path}`, { headers: { cookie: session.cookie } });

function assertUnauthorized(res: JsonResponse, where: string): void {
  assert.equal(res.status, 401, `${where}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error, 'unauthorized');
}

test('signed out on instance A, the cookie replayed on instance B gets 401', { timeout: 60_000 }, async () => {
  const session = await signIn(a, ADMIN_TOKEN);
  assert.equal((await get(b, session, '/dashboard/api/admin/groups')).status, 200, 'a session from A opens on B');
  const out = await request(`${a.url}/dashboard/session`, { method: 'DELETE', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
  assert.equal(out.status, 204);
  for (const server of [b, a]) {
    assertUnauthorized(await get(server, session, '/dashboard/session'), server.url);
    assertUnauthorized(await get(server, session, '/dashboard/api/admin/groups'), server.url);
  }
  const other = await signIn(b, ADMIN_TOKEN);
  assert.equal((await get(a, other, '/dashboard/api/admin/groups')).status, 200, 'another session of the same token goes on');
});

test('an instance started with another TOLLGATE_ADMIN_TOKEN refuses the sessions of the old one', { timeout: 60_000 }, async () => {
  const session = await signIn(a, ADMIN_TOKEN);
  const newToken = 'the-next-admin-token-0123456789abcdef';
  const rotated = await cluster.spawn({ env: { TOLLGATE_ADMIN_TOKEN: newToken } });
  assertUnauthorized(await get(rotated, session, '/dashboard/api/admin/groups'), 'new token');
  assertUnauthorized(await get(rotated, session, '/dashboard/session'), 'new token');
  const fresh = await signIn(rotated, newToken);
  assert.equal((await get(rotated, fresh, '/dashboard/api/admin/groups')).status, 200);
});

test("a key revoked on instance A ends its customer's session on instance B", { timeout: 60_000 }, async () => {
  const customer = await setupCustomer(adminClient(a.url));
  const session = await signIn(b, customer.key);
  const paths = ['/dashboard/session', '/dashboard/api/me/v1/usage', '/dashboard/api/me/v3/ocr-usage'];
  for (const path of paths) assert.equal((await get(b, session, path)).status, 200, path);
  assert.equal((await adminClient(a.url).delete(`/admin/keys/${customer.keyId}`)).status, 200);
  // B hears of the revocation through Redis (its cached key is dropped), within a moment.
  const deadline = Date.now() + 5_000;
  while ((await get(b, session, paths[0]!)).status !== 401) {
    assert.ok(Date.now() < deadline, 'the revocation never reached instance B');
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const path of paths) assertUnauthorized(await get(b, session, path), path);
});
