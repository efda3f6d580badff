import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import pg from 'pg';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';
import { type ServerProcess } from '../../helpers/process.js';
import { scaleOutCluster } from '../../helpers/scale-out.js';

// Store outages under load, with the real servers stopped and started again:
// one instance fails closed (503 while a store is away), one fails open
// (local limits, writes spooled to disk). Neither needs a restart, neither
// loses an acknowledged check, and neither counts one twice.

const cluster = scaleOutCluster('outage');
let closed: ServerProcess;
let open: ServerProcess;
let openDir: string;

before(async () => {
  closed = await cluster.spawn({ env: { TOLLGATE_ON_STORE_DOWN: 'closed' } });
  openDir = cluster.tempDir();
  open = await cluster.spawn({ env: { TOLLGATE_ON_STORE_DOWN: 'open' }, dataDir: openDir });
});

interface Tally {
  allowed: Set<string>;
  /** Idempotency keys answered 503: not acknowledged, to be retried. */
  unavailable: Set<string>;
  unexpected: string[];
}

/** Checks with fresh idempotency keys from `workers` loops until `stop()`. */
async function load(url: string, key: string, workers: number, stop: () => boolean, tally: Tally): Promise<void> {
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; !stop(); i += 1) {
      const idempotencyKey = `${w}-${i}-${Math.random().toString(36).slice(2)}`;
      await checkOnce(url, key, idempotencyKey, tally);
    }
  }));
}

async function checkOnce(url: string, key: string, idempotencyKey: string, tally: Tally): Promise<void> {
  const res = await request(`${url}/v1/check`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key, usage_type: 'image', idempotency_key: idempotencyKey },
  });
  if (res.status === 200 && res.body.allowed === true) {
    tally.allowed.add(idempotencyKey);
    tally.unavailable.delete(idempotencyKey);
  } else if (res.status === 503 && res.body.error === 'unavailable' && typeof res.body.message === 'string') {
    tally.unavailable.add(idempotencyKey);
  } else {
    tally.unexpected.push(`${res.status} ${JSON.stringify(res.body)}`);
  }
}

async function recorded(groupId: string): Promise<number> {
  const client = new pg.Client({ connectionString: cluster.postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ units: string | null }>('SELECT SUM(count) AS units FROM events WHERE group_id = $1', [groupId]);
    return Number(rows[0]!.units ?? 0);
  } finally {
    await client.end();
  }
}

test('Redis and PostgreSQL stopped and started under load: fail-closed answers 503, fail-open keeps serving; nothing lost or counted twice', { timeout: 180_000 }, async () => {
  const admin = adminClient(closed.url);
  const closedCustomer = await setupCustomer(admin, { monthlyQuota: -1, ratePerMinute: -1 });
  const openCustomer = await setupCustomer(admin, { monthlyQuota: -1, ratePerMinute: -1 });
  const tallies = {
    closed: { allowed: new Set<string>(), unavailable: new Set<string>(), unexpected: [] as string[] },
    open: { allowed: new Set<string>(), unavailable: new Set<string>(), unexpected: [] as string[] },
  };
  let stopped = false;
  const loading = Promise.all([
    load(closed.url, closedCustomer.key, 8, () => stopped, tallies.closed),
    load(open.url, openCustomer.key, 8, () => stopped, tallies.open),
  ]).catch((error: unknown) => {
    stopped = true;
    // A connection refused means a server died: say how, with what it printed.
    return new Error(`${(error as Error).message}; closed instance: ${closed.child.exitCode ?? 'running'} ${closed.errors().slice(-2000)}; open instance: ${open.child.exitCode ?? 'running'} ${open.errors().slice(-2000)}`);
  });

  // Each step waits on what the instances answer, not on the clock: how soon a halted server is noticed
  // (a command's timeout) depends on how busy the machine is.
  const WAIT = 60_000;
  await until('both instances admit calls', () => tallies.closed.allowed.size > 0 && tallies.open.allowed.size > 0, WAIT);
  await cluster.redis.halt();
  await until('fail-closed refuses calls while Redis is away', () => tallies.closed.unavailable.size > 0, WAIT);
  const openDuringRedis = tallies.open.allowed.size;
  await until('fail-open keeps admitting while Redis is away', () => tallies.open.allowed.size > openDuringRedis + 10, WAIT);
  const closedDuringRedis = tallies.closed.unavailable.size;
  const closedAdmitted = tallies.closed.allowed.size;
  await cluster.redis.resume();
  await until('fail-closed admits again once Redis is back', () => tallies.closed.allowed.size > closedAdmitted, WAIT);

  await cluster.postgres.halt();
  const spool = join(openDir, 'spool');
  await until('fail-open spools writes to disk while PostgreSQL is away', () => existsSync(spool) && readdirSync(spool).length > 0, WAIT);
  const openDuringPostgres = tallies.open.allowed.size;
  // The admin API, which PostgreSQL alone serves, says so plainly on either instance.
  for (const server of [closed, open]) {
    const plans = await adminClient(server.url).get('/admin/plans');
    assert.deepEqual([plans.status, plans.body.error], [503, 'unavailable'], JSON.stringify(plans.body));
  }
  await until('fail-closed refuses calls while PostgreSQL is away', () => tallies.closed.unavailable.size > closedDuringRedis, WAIT);
  await until('fail-open keeps admitting while PostgreSQL is away', () => tallies.open.allowed.size > openDuringPostgres + 10, WAIT);
  const afterPostgres = tallies.closed.allowed.size;
  await cluster.postgres.resume();
  await until('fail-closed admits again once PostgreSQL is back', () => tallies.closed.allowed.size > afterPostgres, WAIT);
  stopped = true;
  const failure = await loading;
  if (failure instanceof Error) throw failure;

  assert.deepEqual(tallies.closed.unexpected.slice(0, 5), [], 'fail-closed: only admissions and 503 unavailable');
  assert.deepEqual(tallies.open.unexpected.slice(0, 5), [], 'fail-open: only admissions');
  assert.equal(tallies.open.unavailable.size, 0, 'fail-open never refused a call');

  // Recovered without a restart: both answer as before.
  for (const [server, customer] of [[closed, closedCustomer], [open, openCustomer]] as const) {
    const probe = { allowed: new Set<string>(), unavailable: new Set<string>(), unexpected: [] as string[] };
    await checkOnce(server.url, customer.key, `probe-${Math.random()}`, probe);
    assert.equal(probe.allowed.size, 1, 'answers again after the outages');
  }
  tallies.open.allowed.add('probe');
  tallies.closed.allowed.add('probe');

  // The spool drains into PostgreSQL.
  await until('the spool is replayed', () => !existsSync(spool) || readdirSync(spool).length === 0, WAIT);

  // A call answered 503 may or may not have been recorded (it was in flight when the store went away);
  // retried under its idempotency key it is answered once and for all, and counted at most once.
  for (const key of [...tallies.closed.unavailable]) await checkOnce(closed.url, closedCustomer.key, key, tallies.closed);
  assert.equal(tallies.closed.unavailable.size, 0);

  assert.equal(await recorded(closedCustomer.groupId), tallies.closed.allowed.size, 'fail-closed: recorded = acknowledged');
  assert.equal(await recorded(openCustomer.groupId), tallies.open.allowed.size, 'fail-open: recorded = acknowledged');
  for (const [server, customer, tally] of [[closed, closedCustomer, tallies.closed], [open, openCustomer, tallies.open]] as const) {
    const usage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': customer.key } });
    assert.equal(usage.body.monthly_used, tally.allowed.size, `the usage API agrees (${server === open ? 'fail-open' : 'fail-closed'})`);
  }
});
