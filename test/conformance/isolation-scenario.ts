import assert from 'node:assert/strict';
import { adminClient, request, type AdminClient } from '../helpers/server.js';

/**
 * Two customers of one Tollgate, A and B, each a group with two apps, keys
 * and usage; B's ids, usage types, request argument hashes and numbers are
 * distinct from A's, so that any of them in an answer to A is a leak.
 */
export interface TwoTenants {
  a: Tenant;
  b: Tenant;
  /** Strings of B that must never reach A: ids, a usage type only B uses, B's request arguments hash. */
  bMarks: string[];
}

export interface Tenant {
  groupId: string;
  appIds: [string, string];
  key: string;
  keyId: string;
  /** Units counted for the group. */
  units: number;
}

/** Two days either side of now: hours fit in one query, and the usage made now is inside. */
function range() {
  const day = 86_400_000;
  return { from_date: new Date(Date.now() - 2 * day).toISOString(), to_date: new Date(Date.now() + 2 * day).toISOString() };
}

async function created(admin: AdminClient, path: string, body: unknown) {
  const res = await admin.post(path, body);
  assert.equal(res.status, 201, `${path}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Creates both tenants and their usage through the admin and check APIs of the server at `url`. */
export async function twoTenants(url: string, adminToken: string, suffix: string): Promise<TwoTenants> {
  const admin = adminClient(url, adminToken);
  await created(admin, '/admin/plans', { id: `iso-plan-${suffix}`, monthly_quota: -1, rate_limit_per_minute: -1 });
  const tenant = async (name: string, uses: Array<{ app: 0 | 1; usage_type: string; request_args?: object; times: number }>): Promise<Tenant> => {
    const groupId = `grp-${name}-${suffix}`;
    await created(admin, '/admin/groups', { id: groupId, name: `Group ${name}`, plan_id: `iso-plan-${suffix}` });
    const appIds: [string, string] = [`app-${name}1-${suffix}`, `app-${name}2-${suffix}`];
    for (const id of appIds) await created(admin, `/admin/groups/${groupId}/apps`, { id });
    const key = await created(admin, `/admin/apps/${appIds[0]}/keys`, { name: `${name} key` });
    const second = await created(admin, `/admin/apps/${appIds[1]}/keys`, { name: `${name} second key` });
    let units = 0;
    for (const use of uses) {
      for (let i = 0; i < use.times; i++) {
        const res = await request(`${url}/v1/check`, {
          method: 'POST', headers: { authorization: `Bearer ${adminToken}` },
          body: { key: use.app === 0 ? key.key : second.key, usage_type: use.usage_type, ...(use.request_args ? { request_args: use.request_args } : {}) },
        });
        assert.equal(res.body.allowed, true, JSON.stringify(res.body));
        units += 1;
      }
    }
    return { groupId, appIds, key: key.key, keyId: key.key_id, units };
  };
  const a = await tenant('a', [
    { app: 0, usage_type: 'image', request_args: { lang: 'en' }, times: 3 },
    { app: 1, usage_type: 'pdf', times: 2 },
  ]);
  const b = await tenant('b', [
    { app: 0, usage_type: 'image', request_args: { lang: 'fr', b_only: true }, times: 7 },
    { app: 0, usage_type: 'b-only-kind', times: 4 },
    { app: 1, usage_type: 'pdf', times: 5 },
  ]);
  // B's request arguments hash, as the admin sees it.
  const bUsage = await admin.get(`/admin/groups/${b.groupId}/usage?${new URLSearchParams({ ...range(), group_by: 'request_args_hash' })}`);
  const bHash = (bUsage.body.ocr_usage as Array<{ request_args_hash: string }>).map((r) => r.request_args_hash).find((h) => h !== '');
  assert.ok(bHash !== undefined && /^[0-9a-f]{40}$/.test(bHash));
  return { a, b, bMarks: [b.groupId, ...b.appIds, b.keyId, 'b-only-kind', bHash, b.key] };
}

function assertNoMark(text: string, marks: string[], where: string) {
  for (const mark of marks) assert.ok(!text.includes(mark), `${where} shows B's "${mark}": ${text.slice(0, 400)}`);
}

/**
 * Everything a customer can ask with its own key: A's key, over every
 * customer endpoint, every group_by, timespan and format, with every
 * parameter and header that names B, sees A's numbers and never B's.
 */
export async function assertCustomerEndpointsIsolated(url: string, { a, b, bMarks }: TwoTenants): Promise<void> {
  const asA = { 'x-api-key': a.key };
  const bHash = bMarks[bMarks.length - 2]!;
  // What a query string could name of B, were the API to read it.
  const namingB = { app_id: b.appIds[0], group_id: b.groupId, request_args_hash: bHash, usage_type: 'b-only-kind', key_id: b.keyId, key: b.key };

  for (const groupBy of ['usage_type', 'request_args_hash', 'app_id']) {
    for (const timespan of ['hour', 'day', 'month', 'year']) {
      const query = new URLSearchParams({ ...range(), group_by: groupBy, timespan });
      const answer = await request(`${url}/v3/ocr-usage?${query}`, { headers: asA });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const records = answer.body.ocr_usage as Array<Record<string, string | number>>;
      assert.equal(records.reduce((sum, r) => sum + (r.count as number), 0), a.units, `group_by=${groupBy} timespan=${timespan}: A's units only`);
      assert.ok(records.every((r) => r.group_id === a.groupId));
      assertNoMark(JSON.stringify(answer.body), bMarks, `group_by=${groupBy} timespan=${timespan}`);
      if (groupBy === 'app_id') assert.deepEqual([...new Set(records.map((r) => r.app_id))].sort(), [...a.appIds].sort());

      // Parameters naming B change nothing: the group is the key's, whatever else is asked.
      const named = await request(`${url}/v3/ocr-usage?${query}&${new URLSearchParams(namingB)}`, { headers: asA });
      assert.deepEqual(named.body, answer.body, `group_by=${groupBy} with B named in the query`);
      const csv = await fetch(`${url}/v3/ocr-usage?${query}&format=csv&${new URLSearchParams(namingB)}`, { headers: asA });
      assert.equal(csv.status, 200);
      assertNoMark(await csv.text(), bMarks, `group_by=${groupBy} as CSV`);
    }
  }

  // The current usage is A's, whatever the query or headers name.
  const current = await request(`${url}/v1/usage?${new URLSearchParams(namingB)}`, { headers: { ...asA, app_id: b.appIds[0], 'x-group-id': b.groupId } });
  assert.equal(current.status, 200);
  assert.equal(current.body.monthly_used, a.units);
  assertNoMark(JSON.stringify(current.body), bMarks, '/v1/usage');

  // A's key presented as one of B's apps is refused exactly as with an app that does not exist: B's app is not confirmed.
  for (const path of ['/v1/usage', `/v3/ocr-usage?${new URLSearchParams(range())}`]) {
    const asBApp = await request(`${url}${path}`, { headers: { app_id: b.appIds[0], app_key: a.key } });
    const asNoApp = await request(`${url}${path}`, { headers: { app_id: 'app-that-does-not-exist', app_key: a.key } });
    assert.equal(asBApp.status, 401);
    assert.deepEqual(asBApp.body, asNoApp.body, `${path}: B's app id answers like an unknown one`);
    assertNoMark(JSON.stringify(asBApp.body), bMarks, path);
  }

  // A customer key is no admin or service credential, whichever of B's resources it names.
  for (const [method, path] of [
    ['GET', `/admin/groups/${b.groupId}/usage`], ['GET', `/admin/groups/${b.groupId}`], ['GET', `/admin/apps/${b.appIds[0]}/keys`],
    ['GET', `/admin/keys/${b.keyId}`], ['DELETE', `/admin/keys/${b.keyId}`], ['GET', `/admin/groups/${b.groupId}/statements`],
    ['POST', '/v1/check'], ['POST', '/v1/events'],
  ] as const) {
    const body = method === 'POST' ? (path === '/v1/events' ? [{ id: 'e1', app_id: b.appIds[0], usage_type: 'pdf' }] : { key: b.key, usage_type: 'pdf' }) : undefined;
    for (const headers of [{ authorization: `Bearer ${a.key}` }, asA]) {
      const res = await request(`${url}${path}`, { method, headers, body });
      assert.equal(res.status, 401, `${method} ${path} with A's key: ${JSON.stringify(res.body)}`);
      assertNoMark(JSON.stringify(res.body), bMarks, `${method} ${path}`);
    }
  }
}

/**
 * The provider's backend checking A's key against B's app: refused exactly as
 * against an app that does not exist, and nothing counted for either group.
 */
export async function assertCheckIsolated(url: string, adminToken: string, { a, b, bMarks }: TwoTenants): Promise<void> {
  const admin = adminClient(url, adminToken);
  const check = (body: object) => request(`${url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` }, body: { usage_type: 'pdf', ...body } });
  const asBApp = await check({ app_id: b.appIds[0], app_key: a.key });
  const asNoApp = await check({ app_id: 'app-that-does-not-exist', app_key: a.key });
  assert.equal(asBApp.status, 200);
  assert.equal(asBApp.body.code, 'unauthorized');
  assert.deepEqual(asBApp.body, asNoApp.body);
  assertNoMark(JSON.stringify(asBApp.body), bMarks, 'the check');
  const reverse = await check({ app_id: a.appIds[0], app_key: b.key });
  assert.equal(reverse.body.code, 'unauthorized');
  assert.equal(reverse.body.group_id, null);

  for (const tenant of [a, b]) {
    const usage = await admin.get(`/admin/groups/${tenant.groupId}/usage?${new URLSearchParams(range())}`);
    assert.equal((usage.body.ocr_usage as Array<{ count: number }>).reduce((s, r) => s + r.count, 0), tenant.units, `nothing counted for ${tenant.groupId}`);
  }
}
