import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { sessionCookie } from '../../src/dashboard/session.js';
import { hashSecret } from '../../src/domain/secrets.js';
import { adminClient, ADMIN_TOKEN, request, setupCustomer, startTestServer, type AdminClient, type JsonResponse, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';
import { assertError, dashboardCall, signIn as signInAt, type DashboardSession } from '../helpers/dashboard.js';

eachStore((store) => {
  const T0 = Date.parse('2026-11-20T10:00:00.000Z');
  let server: TestServer;
  let admin: AdminClient;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(T0);
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
  });
  after(async () => server.close());

  type Session = DashboardSession;
  const signIn = (token: string, headers: Record<string, string> = {}) => signInAt(server.url, token, headers);
  const dash = (session: Session, method: string, path: string, options: Parameters<typeof dashboardCall>[4] = {}) =>
    dashboardCall(server.url, session, method, path, options);

  describe('the dashboard page', () => {
    test('is served with a strict Content-Security-Policy and the other security headers, and loads only its own files', async () => {
      const res = await fetch(`${server.url}/dashboard`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /^text\/html/);
      const csp = res.headers.get('content-security-policy')!;
      for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
        assert.ok(csp.split('; ').includes(directive), `${directive} in ${csp}`);
      }
      assert.ok(!/unsafe-inline|unsafe-eval|https?:/.test(csp), csp);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      const html = await res.text();
      assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'no inline script');
      assert.ok(!/\sstyle=/.test(html), 'no inline style');
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((a) => !a.startsWith('data:'));
      assert.deepEqual(assets.sort(), ['/dashboard/assets/dashboard.css', '/dashboard/assets/dashboard.js', '/dashboard/assets/uplot.min.css'].sort());
      for (const asset of [...assets, '/dashboard/assets/uplot.esm.js']) {
        const file = await fetch(`${server.url}${asset}`);
        assert.equal(file.status, 200, asset);
        assert.match(file.headers.get('content-type')!, asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
        assert.equal(file.headers.get('x-content-type-options'), 'nosniff');
        assert.ok((await file.arrayBuffer()).byteLength > 500, asset);
      }
      // The chart library is the one installed, served from node_modules.
      assert.match(await (await fetch(`${server.url}/dashboard/assets/uplot.esm.js`)).text(), /export \{ uPlot as default \}/);
    });

    test('serves nothing outside its fixed list of files', async () => {
      for (const path of ['/dashboard/assets/session.js', '/dashboard/assets/..%2F..%2Fpackage.json', '/dashboard/assets/index.html']) {
        const res = await request(`${server.url}${path}`);
        assertError(res, 404, 'not_found');
        assert.match(res.headers.get('content-security-policy')!, /default-src 'none'/, 'errors carry the headers too');
      }
    });
  });

  describe('signing in', () => {
    test('with the admin token sets an HttpOnly, SameSite=Strict cookie that holds neither the token nor its hash', async () => {
      const res = await signIn(ADMIN_TOKEN);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.role, 'admin');
      assert.equal(res.body.group_id, null);
      assert.equal(res.body.expires_at, new Date(T0 + 12 * 3_600_000).toISOString());
      const attributes = res.session!.setCookie.split('; ');
      assert.ok(attributes[0]!.startsWith('tollgate_dashboard='));
      for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/dashboard', 'Max-Age=43200']) assert.ok(attributes.includes(attribute), attribute);
      assert.ok(!attributes.includes('Secure'), 'plain http: not Secure (the browser would drop it)');
      const value = attributes[0]!.slice('tollgate_dashboard='.length);
      assert.ok(!value.includes(ADMIN_TOKEN) && !Buffer.from(value, 'base64url').toString('latin1').includes(hashSecret(ADMIN_TOKEN)));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      // Over https the cookie is Secure.
      assert.ok(sessionCookie('v', { secure: true, maxAgeMs: 1000 }).split('; ').includes('Secure'));
    });

    test('fails with a clear error for a wrong token, a revoked key, or a page on another site', async () => {
      const wrong = await signIn('tg_not-a-key-and-not-the-token');
      assertError(wrong, 401, 'unauthorized', /^Sign-in failed: it is neither the admin token nor an API key\.$/);
      assert.equal(wrong.session, null, 'no cookie');
      const customer = await setupCustomer(admin);
      assert.equal((await admin.delete(`/admin/keys/${customer.keyId}`)).status, 200);
      assertError(await signIn(customer.key), 401, 'unauthorized', /^Sign-in failed: This API key has been revoked\.$/);
      assertError(await signIn(ADMIN_TOKEN, { origin: 'https://evil.example' }), 403, 'forbidden', /Cross-site/);
      assertError(await signIn(ADMIN_TOKEN, { 'sec-fetch-site': 'cross-site' }), 403, 'forbidden');
      const empty = await request(`${server.url}/dashboard/session`, { method: 'POST', body: {} });
      assertError(empty, 400, 'invalid_request', /token/);
    });

    test('a session ends after 12 hours, when altered, and when the admin token is not the one it was opened with', async () => {
      const { session } = await signIn(ADMIN_TOKEN);
      assert.equal((await dash(session!, 'GET', '/dashboard/session')).status, 200);
      const value = session!.cookie.split('=')[1]!;
      const altered = `${value.slice(0, 20)}${value[20] === 'A' ? 'B' : 'A'}${value.slice(21)}`;
      assertError(await dash({ ...session!, cookie: `tollgate_dashboard=${altered}` }, 'GET', '/dashboard/session'), 401, 'unauthorized', /sign in/);
      assertError(await request(`${server.url}/dashboard/api/admin/groups`), 401, 'unauthorized');
      // Another server (another server secret, another admin token) does not take it.
      const other = await startTestServer({ store, config: { adminToken: 'another-admin-token-0123456789' } });
      try {
        const res = await request(`${other.url}/dashboard/api/admin/groups`, { headers: { cookie: session!.cookie } });
        assertError(res, 401, 'unauthorized');
      } finally {
        await other.close();
      }
      clock.advance(12 * 3_600_000);
      try {
        assertError(await dash(session!, 'GET', '/dashboard/api/admin/groups'), 401, 'unauthorized');
      } finally {
        clock.advance(-12 * 3_600_000);
      }
    });
  });

  describe('guessing', () => {
    test('failed sign-ins and forged cookies count as failed authentication: the address is throttled for wrong credentials, a right one signs in, and a visit without a cookie is not a failure', async () => {
      const strict = await startTestServer({ store, config: { authFailureLimit: 3 } });
      try {
        const attempt = (body: unknown, headers: Record<string, string> = {}) => request(`${strict.url}/dashboard/session`, { method: 'POST', headers, body });
        for (let i = 0; i < 5; i += 1) assert.equal((await request(`${strict.url}/dashboard/session`)).status, 401, 'no cookie: not a failure');
        for (let i = 0; i < 2; i += 1) assert.equal((await attempt({ token: `wrong-${i}` })).status, 401);
        const forged = await request(`${strict.url}/dashboard/session`, { headers: { cookie: 'tollgate_dashboard=forged' } });
        assert.equal(forged.status, 401);
        const refused = await attempt({ token: 'wrong-again' });
        assert.equal(refused.status, 429, 'a wrong token, once the address is refused');
        assert.equal(refused.body.error, 'rate_limited');
        assert.ok(Number(refused.headers.get('retry-after')) > 0);
        assert.equal((await request(`${strict.url}/dashboard/session`, { headers: { cookie: 'tollgate_dashboard=forged-again' } })).status, 429);
        // The right token is checked first and signs in: others behind the same address are not locked out.
        const right = await attempt({ token: ADMIN_TOKEN });
        assert.equal(right.status, 200, JSON.stringify(right.body));
        const cookie = right.headers.get('set-cookie')!.split(';')[0]!;
        assert.equal((await request(`${strict.url}/dashboard/api/admin/groups`, { headers: { cookie } })).status, 200);
      } finally {
        await strict.close();
      }
    });
  });

  describe('the session and CSRF', () => {
    test('a change needs the CSRF token and a same-origin request; reads need only the cookie', async () => {
      const { appId } = await setupCustomer(admin);
      const { session } = await signIn(ADMIN_TOKEN);
      const create = (options: { csrf?: string | null; headers?: Record<string, string> }) =>
        dash(session!, 'POST', `/dashboard/api/admin/apps/${appId}/keys`, { body: { name: 'dash' }, ...options });
      assertError(await create({ csrf: null }), 403, 'forbidden', /CSRF token/);
      assertError(await create({ csrf: 'x'.repeat(43) }), 403, 'forbidden', /CSRF token/);
      const other = await signIn(ADMIN_TOKEN);
      assertError(await create({ csrf: other.session!.csrf }), 403, 'forbidden', /CSRF token/);
      assertError(await create({ headers: { origin: 'http://evil.example' } }), 403, 'forbidden', /Cross-site/);
      assertError(await create({ headers: { 'sec-fetch-site': 'same-site' } }), 403, 'forbidden', /Cross-site/);
      assert.equal((await admin.get(`/admin/apps/${appId}/keys`)).body.items.length, 1, 'nothing refused was created');

      const host = new URL(server.url).host;
      const made = await create({ headers: { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' } });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.match(made.body.key, /^tg_/);
      const check = await request(`${server.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key: made.body.key, usage_type: 'image' } });
      assert.equal(check.body.code, 'ok');
      assert.equal((await dash(session!, 'GET', `/dashboard/api/admin/apps/${appId}/keys`, { csrf: null })).body.items.length, 2);
    });

    test('the cookie opens only the dashboard API, and the bearer token does not open the dashboard API', async () => {
      const { session } = await signIn(ADMIN_TOKEN);
      assertError(await request(`${server.url}/admin/groups`, { headers: { cookie: session!.cookie } }), 401, 'unauthorized');
      assertError(await request(`${server.url}/dashboard/api/admin/groups`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }), 401, 'unauthorized');
    });

    test('signing out needs the CSRF token and clears the cookie', async () => {
      const { session } = await signIn(ADMIN_TOKEN);
      assertError(await dash(session!, 'DELETE', '/dashboard/session', { csrf: null }), 403, 'forbidden');
      const out = await dash(session!, 'DELETE', '/dashboard/session');
      assert.equal(out.status, 204);
      assert.match(out.headers.get('set-cookie')!, /^tollgate_dashboard=; Path=\/dashboard; Max-Age=0; HttpOnly; SameSite=Strict$/);
    });

    test('signing out ends the session on the server: a copy of the cookie gets 401 for reads and writes, also after a restart', async () => {
      const { appId } = await setupCustomer(admin);
      const { session } = await signIn(ADMIN_TOKEN);
      const other = (await signIn(ADMIN_TOKEN)).session!;
      const host = new URL(server.url).host;
      const write = (s: Session) => dash(s, 'POST', `/dashboard/api/admin/apps/${appId}/keys`, { body: { name: 'after-sign-out' }, headers: { origin: `http://${host}` } });
      assert.equal((await dash(session!, 'GET', '/dashboard/api/admin/groups')).status, 200, 'the cookie opened before');
      assert.equal((await dash(session!, 'DELETE', '/dashboard/session')).status, 204);
      // The copied cookie, as it was before the browser dropped it.
      assertError(await dash(session!, 'GET', '/dashboard/session'), 401, 'unauthorized', /session has ended/);
      assertError(await dash(session!, 'GET', '/dashboard/api/admin/groups'), 401, 'unauthorized');
      assertError(await write(session!), 401, 'unauthorized');
      assert.equal((await admin.get(`/admin/apps/${appId}/keys`)).body.items.length, 1, 'the refused write created nothing');
      // Only that session ended: another sign-in with the same token goes on.
      assert.equal((await write(other)).status, 201);
      // Signing out again with the ended cookie is harmless.
      assert.equal((await dash(session!, 'DELETE', '/dashboard/session')).status, 204);

      // On disk: a restarted server still refuses it (the same data directory, the same server secret).
      const own = await startTestServer({ store, clock });
      try {
        const url = (path: string) => `${own.url}${path}`;
        const signed = await request(url('/dashboard/session'), { method: 'POST', body: { token: ADMIN_TOKEN } });
        const cookie = signed.headers.get('set-cookie')!.split(';')[0]!;
        const out = await request(url('/dashboard/session'), { method: 'DELETE', headers: { cookie, 'x-csrf-token': signed.body.csrf_token } });
        assert.equal(out.status, 204);
        await own.close({ keepData: true });
        const again = await startTestServer({ store, clock, dataDir: own.dataDir });
        try {
          assertError(await request(`${again.url}/dashboard/api/admin/groups`, { headers: { cookie } }), 401, 'unauthorized');
          assert.equal((await request(`${again.url}/dashboard/session`, { method: 'POST', body: { token: ADMIN_TOKEN } })).status, 200);
        } finally {
          await again.close();
        }
      } finally {
        await own.close();
      }
    });
  });

  describe('the customer session', () => {
    test('shows the customer their own usage, closes the provider API, and ends when the key is revoked', async () => {
      const customer = await setupCustomer(admin, { monthlyQuota: 5, ratePerMinute: 100 });
      const signedIn = await signIn(customer.key);
      assert.equal(signedIn.status, 200);
      assert.deepEqual({ ...signedIn.body, csrf_token: undefined, expires_at: undefined }, {
        role: 'customer', group_id: customer.groupId, app_id: customer.appId, key_id: customer.keyId, csrf_token: undefined, expires_at: undefined,
      });
      const session = signedIn.session!;
      assert.ok(!session.cookie.includes(customer.key));
      for (let i = 0; i < 3; i++) {
        await request(`${server.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key: customer.key, usage_type: 'pdf' } });
      }
      const usage = await dash(session, 'GET', '/dashboard/api/me/v1/usage');
      assert.equal(usage.status, 200, JSON.stringify(usage.body));
      assert.equal(usage.body.monthly_used, 3);
      assert.equal(usage.body.monthly_quota, 5);
      assert.equal(usage.body.rate_limit_per_minute, 100);
      assert.ok(usage.headers.get('ratelimit') !== null, 'counted against the per-minute limit, as /v1/usage is');
      const records = await dash(session, 'GET', '/dashboard/api/me/v3/ocr-usage?timespan=day');
      assert.deepEqual(records.body.ocr_usage.map((r: { usage_type: string; count: number; group_id: string }) => [r.group_id, r.usage_type, r.count]), [[customer.groupId, 'pdf', 3]]);
      assertError(await dash(session, 'GET', '/dashboard/api/admin/groups'), 403, 'forbidden', /provider/);
      assertError(await dash(session, 'GET', '/dashboard/api/activity'), 403, 'forbidden');
      assert.equal((await admin.delete(`/admin/keys/${customer.keyId}`)).status, 200);
      assertError(await dash(session, 'GET', '/dashboard/api/me/v1/usage'), 401, 'unauthorized', /revoked/);
      assertError(await dash(session, 'GET', '/dashboard/session'), 401, 'unauthorized', /revoked/);
    });
  });

  describe('the customer session ends with its key', () => {
    test('once the key is revoked, every customer route of the OpenAPI document and GET /dashboard/session answer 401; signing out ends it too', async () => {
      const document = (await request(`${server.url}/openapi.json`)).body;
      const routes = Object.keys(document.paths).filter((path) => path.startsWith('/dashboard/api/me/'));
      assert.ok(routes.length >= 2, routes.join());
      for (const path of routes) assert.deepEqual(Object.keys(document.paths[path]), ['get'], `${path}: a read, as the customer's part has only reads`);

      const customer = await setupCustomer(admin);
      const session = (await signIn(customer.key)).session!;
      for (const path of routes) assert.equal((await dash(session, 'GET', path)).status, 200, path);
      assert.equal((await admin.delete(`/admin/keys/${customer.keyId}`)).status, 200);
      for (const path of [...routes, '/dashboard/session']) assertError(await dash(session, 'GET', path), 401, 'unauthorized', /revoked/);

      const kept = await setupCustomer(admin);
      const signedOut = (await signIn(kept.key)).session!;
      assert.equal((await dash(signedOut, 'DELETE', '/dashboard/session')).status, 204);
      for (const path of [...routes, '/dashboard/session']) assertError(await dash(signedOut, 'GET', path), 401, 'unauthorized', /session has ended/);
    });
  });

  describe('the overview and activity endpoints', () => {
    test('give each group its period usage against its quota, and the top consumers and recent denials', async () => {
      const customer = await setupCustomer(admin, { groupId: 'zz-busy', monthlyQuota: 4 });
      for (let i = 0; i < 6; i++) {
        await request(`${server.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key: customer.key, usage_type: 'image', cost: 1 } });
      }
      const { session } = await signIn(ADMIN_TOKEN);
      let after: string | null = null;
      const seen: any[] = [];
      do {
        const page: JsonResponse = await dash(session!, 'GET', `/dashboard/api/groups-overview?limit=2${after === null ? '' : `&after=${after}`}`);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        assert.ok(page.body.items.length <= 2);
        seen.push(...page.body.items);
        after = page.body.next;
      } while (after !== null);
      const busy = seen.find((g) => g.group_id === 'zz-busy');
      assert.deepEqual({ used: busy.monthly_used, quota: busy.monthly_quota, start: busy.period_start }, { used: 4, quota: 4, start: '2026-11-01T00:00:00.000Z' });
      assert.equal(seen.length, (await admin.get('/admin/groups?limit=1000')).body.items.length);

      const activity = await dash(session!, 'GET', '/dashboard/api/activity?limit=5');
      assert.equal(activity.status, 200);
      assert.deepEqual(activity.body.top_consumers[0], { group_id: 'zz-busy', monthly_used: 4, monthly_quota: 4, period_start: '2026-11-01T00:00:00.000Z', seen_at: new Date(T0).toISOString() });
      assert.deepEqual(activity.body.recent_denials.slice(0, 2).map((d: any) => [d.group_id, d.app_id, d.key_id, d.code]),
        [['zz-busy', customer.appId, customer.keyId, 'quota_exceeded'], ['zz-busy', customer.appId, customer.keyId, 'quota_exceeded']]);
      assertError(await dash(session!, 'GET', '/dashboard/api/activity?limit=0'), 400, 'invalid_request');
    });
  });
});
