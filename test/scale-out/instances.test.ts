import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import pg from 'pg';
import { Pool } from 'undici';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from '../helpers/server.js';
import { type ServerProcess } from '../helpers/process.js';
import { scaleOutCluster } from '../helpers/scale-out.js';

// The promise of strict mode, through the public API: four Tollgate
// processes on one PostgreSQL and one Redis, 64 connections each, spending
// one group's monthly quota of 10,000 together, admit exactly 10,000 checks
// and record exactly 10,000 units.

const INSTANCES = 4;
const CONNECTIONS = 64;
const QUOTA = 10_000;
const ATTEMPTS = 12_000;

const cluster = scaleOutCluster('scale');
const servers: ServerProcess[] = [];

before(async () => {
  // All at once: their migrations race for the advisory lock.
  servers.push(...await Promise.all(Array.from({ length: INSTANCES }, () => cluster.spawn())));
});

test(`${INSTANCES} instances x ${CONNECTIONS} connections spend a quota of ${QUOTA} exactly`, { timeout: 180_000 }, async () => {
  assert.match(servers[0]!.output(), /Store: scale-out \(PostgreSQL postgres:\/\/tollgate@127\.0\.0\.1/);
  const customer = await setupCustomer(adminClient(servers[0]!.url), { monthlyQuota: QUOTA, ratePerMinute: -1 });

  let next = 0;
  const outcomes = { allowed: 0, quota_exceeded: 0, other: [] as string[] };
  await Promise.all(servers.map(async (server) => {
    const pool = new Pool(server.url, { connections: CONNECTIONS });
    try {
      await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
        while (next < ATTEMPTS) {
          next += 1;
          const res = await pool.request({
            method: 'POST', path: '/v1/check',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ key: customer.key, usage_type: 'image' }),
          });
          const body = (await res.body.json()) as { allowed?: boolean; code?: string; error?: string };
          if (res.statusCode === 200 && body.allowed === true) outcomes.allowed += 1;
          else if (body.code === 'quota_exceeded' || body.error === 'quota_exceeded') outcomes.quota_exceeded += 1;
          else outcomes.other.push(`${res.statusCode} ${JSON.stringify(body)}`);
        }
      }));
    } finally {
      await pool.close();
    }
  }));

  assert.deepEqual(outcomes.other.slice(0, 5), [], 'every answer is an admission or a quota refusal');
  assert.equal(outcomes.allowed, QUOTA, 'admitted exactly the quota');
  assert.equal(outcomes.quota_exceeded, ATTEMPTS - QUOTA);

  const client = new pg.Client({ connectionString: cluster.postgres.url });
  await client.connect();
  const { rows } = await client.query<{ units: string; events: string }>('SELECT SUM(count) AS units, COUNT(*) AS events FROM events WHERE group_id = $1', [customer.groupId]);
  await client.end();
  assert.deepEqual({ units: Number(rows[0]!.units), events: Number(rows[0]!.events) }, { units: QUOTA, events: QUOTA }, 'recorded exactly the quota');

  // Every instance reports the same usage, from the shared rollups.
  for (const server of servers) {
    const usage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': customer.key } });
    assert.equal(usage.body.monthly_used, QUOTA);
    const month = await request(`${server.url}/v3/ocr-usage?group_by=app_id&timespan=month`, { headers: { 'x-api-key': customer.key } });
    assert.equal(month.body.ocr_usage.reduce((s: number, r: { count: number }) => s + r.count, 0), QUOTA);
  }
});

test('revoking a key or changing a plan on one instance holds on every instance within a second', { timeout: 60_000 }, async () => {
  const admin = adminClient(servers[0]!.url);
  const customer = await setupCustomer(admin, { monthlyQuota: 1_000, ratePerMinute: -1 });
  const check = (server: ServerProcess) => request(`${server.url}/v1/check`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key: customer.key, usage_type: 'image' },
  });
  // Every instance has now looked the key up, and remembers it.
  for (const server of servers) assert.equal((await check(server)).body.allowed, true);

  /** How long after `change` every other instance answers as `expect` says. */
  async function propagation(change: () => Promise<unknown>, expect: (res: Awaited<ReturnType<typeof check>>) => boolean): Promise<number> {
    await change();
    const changedAt = Date.now();
    await Promise.all(servers.slice(1).map(async (server) => {
      while (!expect(await check(server))) {
        assert.ok(Date.now() - changedAt < 5_000, 'the change never arrived');
        await new Promise((r) => setTimeout(r, 10));
      }
    }));
    return Date.now() - changedAt;
  }

  const planMs = await propagation(
    () => admin.patch(`/admin/plans/${customer.planId}`, { monthly_quota: 4 }),
    (res) => res.body.allowed === false && res.body.code === 'quota_exceeded');
  assert.ok(planMs < 1_000, `the new quota reached every instance after ${planMs} ms`);

  const revokeMs = await propagation(
    () => admin.delete(`/admin/keys/${customer.keyId}`),
    (res) => res.body.allowed === false && res.body.code === 'unauthorized');
  assert.ok(revokeMs < 1_000, `the revocation reached every instance after ${revokeMs} ms`);
});
