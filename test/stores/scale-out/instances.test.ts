import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import pg from 'pg';
import { Pool } from 'undici';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from '../../helpers/server.js';
import { type ServerProcess } from '../../helpers/process.js';
import { scaleOutCluster } from '../../helpers/scale-out.js';

// The promise of strict mode, through the public API: four Tollgate
// processes on one PostgreSQL and one Redis, 64 connections each, spending
// one group's monthly quota of 10,000 together, admit exactly 10,000 checks
// and record exactly 10,000 units. And relaxed mode's: the same load
// overshoots by a bounded amount, and still records every admission.

const INSTANCES = 4;
const CONNECTIONS = 64;
const QUOTA = 10_000;
const ATTEMPTS = 12_000;
const SYNC_MS = 100;

const cluster = scaleOutCluster('scale');
const servers: ServerProcess[] = [];

before(async () => {
  // All at once: their migrations race for the advisory lock.
  servers.push(...await Promise.all(Array.from({ length: INSTANCES }, () => cluster.spawn())));
});

interface Spent {
  allowed: number;
  quotaExceeded: number;
  other: string[];
  elapsedMs: number;
}

/** Sends ATTEMPTS checks for one customer through all the servers at once, CONNECTIONS per server. */
async function spend(on: readonly ServerProcess[], key: string): Promise<Spent> {
  let next = 0;
  const spent: Spent = { allowed: 0, quotaExceeded: 0, other: [], elapsedMs: 0 };
  const started = Date.now();
  await Promise.all(on.map(async (server) => {
    const pool = new Pool(server.url, { connections: CONNECTIONS });
    try {
      await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
        while (next < ATTEMPTS) {
          next += 1;
          const res = await pool.request({
            method: 'POST', path: '/v1/check',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ key, usage_type: 'image' }),
          });
          const body = (await res.body.json()) as { allowed?: boolean; code?: string; error?: string };
          if (res.statusCode === 200 && body.allowed === true) spent.allowed += 1;
          else if (body.code === 'quota_exceeded' || body.error === 'quota_exceeded') spent.quotaExceeded += 1;
          else spent.other.push(`${res.statusCode} ${JSON.stringify(body)}`);
        }
      }));
    } finally {
      await pool.close();
    }
  }));
  spent.elapsedMs = Date.now() - started;
  return spent;
}

/** Units and events PostgreSQL holds for a group. */
async function recorded(groupId: string): Promise<{ units: number; events: number }> {
  const client = new pg.Client({ connectionString: cluster.postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ units: string | null; events: string }>('SELECT SUM(count) AS units, COUNT(*) AS events FROM events WHERE group_id = $1', [groupId]);
    return { units: Number(rows[0]!.units ?? 0), events: Number(rows[0]!.events) };
  } finally {
    await client.end();
  }
}

test(`${INSTANCES} instances x ${CONNECTIONS} connections spend a quota of ${QUOTA} exactly`, { timeout: 180_000 }, async () => {
  assert.match(servers[0]!.output(), /Store: scale-out \(PostgreSQL postgres:\/\/tollgate@127\.0\.0\.1/);
  const customer = await setupCustomer(adminClient(servers[0]!.url), { monthlyQuota: QUOTA, ratePerMinute: -1 });
  const spent = await spend(servers, customer.key);

  assert.deepEqual(spent.other.slice(0, 5), [], 'every answer is an admission or a quota refusal');
  assert.equal(spent.allowed, QUOTA, 'admitted exactly the quota');
  assert.equal(spent.quotaExceeded, ATTEMPTS - QUOTA);
  assert.deepEqual(await recorded(customer.groupId), { units: QUOTA, events: QUOTA }, 'recorded exactly the quota');

  // Every instance reports the same usage, from the shared rollups.
  for (const server of servers) {
    const usage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': customer.key } });
    assert.equal(usage.body.monthly_used, QUOTA);
    const month = await request(`${server.url}/v3/ocr-usage?group_by=app_id&timespan=month`, { headers: { 'x-api-key': customer.key } });
    assert.equal(month.body.ocr_usage.reduce((s: number, r: { count: number }) => s + r.count, 0), QUOTA);
  }
});

test(`relaxed mode: ${INSTANCES} instances synced every ${SYNC_MS} ms overshoot the quota by what the others admit between syncs, and record every admission`, { timeout: 180_000 }, async (t) => {
  const relaxed = await Promise.all(Array.from({ length: INSTANCES }, () => cluster.spawn({ env: { TOLLGATE_LIMITS_MODE: 'relaxed', TOLLGATE_LIMITS_SYNC_MS: String(SYNC_MS) } })));
  assert.match(relaxed[0]!.output(), new RegExp(`relaxed limits, synced every ${SYNC_MS} ms`));
  const customer = await setupCustomer(adminClient(relaxed[0]!.url), { monthlyQuota: QUOTA, ratePerMinute: -1 });
  const spent = await spend(relaxed, customer.key);
  const overshoot = spent.allowed - QUOTA;
  const perSecond = Math.round((ATTEMPTS / spent.elapsedMs) * 1000);
  t.diagnostic(`relaxed: ${spent.allowed} admitted for a quota of ${QUOTA} (overshoot ${overshoot}, ${((overshoot / QUOTA) * 100).toFixed(2)}%) at ${perSecond} checks/s`);

  assert.deepEqual(spent.other.slice(0, 5), [], 'every answer is an admission or a quota refusal');
  // An instance refuses only once the count it sees (never above the true count) has reached the quota.
  assert.ok(spent.allowed >= QUOTA, `admitted ${spent.allowed}, under the quota`);
  // The others can admit what they admit in a sync interval and a round trip; allow ten intervals' worth of the whole load.
  const bound = Math.ceil((perSecond * 10 * SYNC_MS) / 1000);
  assert.ok(overshoot <= bound, `overshoot ${overshoot} above ${bound}, ten sync intervals of the whole load`);
  assert.equal(spent.quotaExceeded, ATTEMPTS - spent.allowed);
  // Only the limits are relaxed: every admission is recorded, once.
  assert.deepEqual(await recorded(customer.groupId), { units: spent.allowed, events: spent.allowed });
  // Within a few syncs every instance reports what was recorded.
  const deadline = Date.now() + 5_000;
  for (const server of relaxed) {
    for (;;) {
      const used = (await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': customer.key } })).body.monthly_used;
      if (used === spent.allowed) break;
      assert.ok(Date.now() < deadline, `${server.url} still reports ${used} of ${spent.allowed} after 5 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
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
