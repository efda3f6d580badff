import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { ADMIN_TOKEN, adminClient, request, setupCustomer } from '../../helpers/server.js';
import { CLI } from '../../helpers/process.js';
import { scaleOutCluster } from '../../helpers/scale-out.js';
import { ManualClock } from '../../../src/clock.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { Statements } from '../../../src/billing/statements.js';
import { billingPeriod } from '../../../src/domain/periods.js';
import { startReceiver, verifyTollgateSignature } from '../../helpers/webhook-receiver.js';
import { until } from '../../helpers/until.js';

// `tollgate migrate` as an operator runs it: an embedded server meters some
// calls and events and is stopped; its data directory is copied into a
// fresh PostgreSQL; a scale-out server on that database then answers for the
// same customer exactly as the embedded one did. PostgreSQL and Redis are
// started by the suite: if either cannot start, it fails (never skips).

/** More events than one INSERT batch (5,000 rows), so the copy crosses a batch edge. */
const EVENTS = 6_001;
/** Trust authentication ignores it; it is there to be kept out of the output. */
const PASSWORD = 'not-to-be-printed';

const cluster = scaleOutCluster('migrate');

/** Runs the CLI to its end; the database URL comes only from the arguments given. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.TOLLGATE_DATABASE_URL;
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const [code] = await once(child, 'close');
  return { code: code as number | null, stdout, stderr };
}

/** Rows per table and units per group in the target, to show that a refused run changed nothing. */
async function snapshot(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = ['plans', 'customer_groups', 'apps', 'api_keys', 'service_tokens', 'events', 'event_keys', 'check_replies', 'rollup_quarter', 'rollup_hour', 'rollup_day'];
    const found: Record<string, string> = {};
    for (const table of tables) {
      const exists = await client.query('SELECT 1 FROM pg_class WHERE relname = $1', [table]);
      found[table] = exists.rowCount === 0 ? 'absent' : (await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`)).rows[0]!.n;
    }
    if (found.events !== 'absent') {
      const { rows } = await client.query<{ units: string | null }>('SELECT SUM(count)::text AS units FROM events');
      found.units = rows[0]!.units ?? '0';
    }
    return found;
  } finally {
    await client.end();
  }
}

test('migrate copies an embedded store into PostgreSQL, and a scale-out server answers for it as before', { timeout: 180_000 }, async () => {
  const databaseUrl = cluster.postgres.url.replace('postgres://tollgate@', `postgres://tollgate:${PASSWORD}@`);
  const migrateArgs = (dir: string) => ['migrate', '--from', dir, '--database-url', databaseUrl];

  // ---- the embedded server meters checks and events
  const dataDir = cluster.tempDir();
  const embedded = await cluster.spawn({ dataDir, embedded: true });
  const admin = adminClient(embedded.url);
  const customer = await setupCustomer(admin, { monthlyQuota: 1_000_000, ratePerMinute: -1 });
  const prices = [{ usage_type: 'image', tiers: [{ up_to: 1000, unit_price: '0.002' }, { up_to: null, unit_price: '0.0015' }] }];
  const limits = [{ name: 'pages-day', usage_types: ['pdf'], window: 'day', units: 2000, scope: 'group' }];
  const credits = { per_unit: { pdf: 5, '*': 1 }, grant_every_period: { amount: 10000, rollover: 'all' } };
  const plan = await admin.patch(`/admin/plans/${customer.planId}`, { currency: 'EUR', prices, limits, credits });
  assert.equal(plan.status, 200, JSON.stringify(plan.body));
  const groupDeal = { limit_overrides: { 'pages-day': 3000 }, limits: [{ name: 'exports-hour', usage_types: null, window: 'hour', units: 9, scope: 'key' }] };
  assert.equal((await admin.patch(`/admin/groups/${customer.groupId}`, groupDeal)).status, 200);
  assert.equal((await admin.patch(`/admin/apps/${customer.appId}`, { limit_overrides: { 'pages-day': 2500 } })).status, 200);
  const service = await admin.post('/admin/service-tokens', { name: 'backend' });
  assert.equal(service.status, 201);
  const serviceToken: string = service.body.token;

  const check = (url: string, idempotencyKey?: string) => request(`${url}/v1/check`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: { key: customer.key, usage_type: 'image', ...(idempotencyKey === undefined ? {} : { idempotency_key: idempotencyKey }) },
  });
  const ingest = (url: string, events: unknown[]) => request(`${url}/v1/events`, {
    method: 'POST', headers: { authorization: `Bearer ${serviceToken}` }, body: events,
  });
  const usage = (url: string) => request(`${url}/v1/usage`, { headers: { 'x-api-key': customer.key } });
  // An alert of the embedded store, delivered to an endpoint: both come along.
  const hooks = await startReceiver();
  const endpoint = await admin.post('/admin/webhooks', { url: hooks.url, group_ids: [customer.groupId] });
  assert.equal(endpoint.status, 201);
  assert.equal((await admin.put(`/admin/groups/${customer.groupId}/alert-settings`, { thresholds: [1], kinds: ['quota_threshold'], credits_low: { below_share: 0.3 } })).status, 200);
  const monthByApp = (url: string) => request(`${url}/v3/ocr-usage?group_by=app_id&timespan=month`, { headers: { 'x-api-key': customer.key } });

  for (const key of ['order-1', 'order-2', 'order-3']) {
    const res = await check(embedded.url, key);
    assert.equal(res.status, 200);
    assert.equal(res.body.allowed, true, JSON.stringify(res.body));
    assert.equal(res.body.replayed, false);
  }
  const events = Array.from({ length: EVENTS }, (_, i) => ({ id: `ev-${i}`, app_id: customer.appId, usage_type: i % 2 === 0 ? 'ocr' : 'pdf', count: (i % 3) + 1 }));
  const ingested = await ingest(embedded.url, events);
  assert.deepEqual(ingested.body, { accepted: EVENTS, duplicates: 0, rejected: [] });
  const units = 3 + events.reduce((sum, e) => sum + e.count, 0);
  await until('the 1% alert delivered', async () => (await admin.get(`/admin/groups/${customer.groupId}/webhook-deliveries`)).body.items[0]?.status === 'delivered');
  const [delivered] = (await admin.get(`/admin/groups/${customer.groupId}/webhook-deliveries`)).body.items;

  const usageBefore = await usage(embedded.url);
  assert.equal(usageBefore.status, 200);
  assert.equal(usageBefore.body.monthly_used, units);
  const monthBefore = await monthByApp(embedded.url);
  assert.equal(monthBefore.status, 200);
  assert.equal(monthBefore.body.ocr_usage.reduce((s: number, r: { count: number }) => s + r.count, 0), units);

  // Two dashboard sessions, one of them signed out of: it stays ended on the scale-out server, which shares the server secret.
  const signIn = async () => {
    const res = await request(`${embedded.url}/dashboard/session`, { method: 'POST', body: { token: ADMIN_TOKEN } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: res.body.csrf_token as string };
  };
  const [keptSession, endedSession] = [await signIn(), await signIn()];
  const signOut = await request(`${embedded.url}/dashboard/session`, { method: 'DELETE', headers: { cookie: endedSession.cookie, 'x-csrf-token': endedSession.csrf } });
  assert.equal(signOut.status, 204);

  // Credits: the period's grant, overdrawn by the ingested pdf pages (5 credits each) into a debt;
  // grants made since, one of them voided.
  const grant = async (amount: number) => {
    const res = await admin.post(`/admin/groups/${customer.groupId}/grants`, { amount, idempotency_key: `g-${amount}` });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  await grant(500);
  const voided = await grant(9);
  assert.equal((await admin.post(`/admin/groups/${customer.groupId}/grants/${voided.id}/void`)).status, 200);
  await grant(100);
  const creditsBefore = (await admin.get(`/admin/groups/${customer.groupId}/grants?include_voided=true`)).body;
  assert.deepEqual(creditsBefore.items.map((g: any) => g.status).sort(), ['active', 'active', 'exhausted', 'voided'], JSON.stringify(creditsBefore));
  assert.ok(creditsBefore.debt > 0 || creditsBefore.balance < 0, `the events overdrew the credits: ${JSON.stringify(creditsBefore)}`);

  // ---- while the embedded server runs, its data directory is refused
  const busy = await cli(migrateArgs(dataDir));
  assert.equal(busy.code, 1, busy.stdout + busy.stderr);
  assert.match(busy.stderr, /is in use by another process \(pid \d+\).*Stop that server first/);
  const untouched = await snapshot(cluster.postgres.url);
  assert.equal(untouched.plans, '0');
  assert.equal(untouched.events, '0');

  embedded.child.kill('SIGTERM');
  assert.deepEqual(await embedded.exited, { code: 0, signal: null }, embedded.errors());
  // Closed statements, as the embedded server keeps them: this month's and the next, closed as if two months had passed.
  const sqlite = new SqliteStore({ dataDir, clock: new ManualClock(Date.now()), idempotencyWindowMs: 35 * 86_400_000, rollupFlushMs: 50 });
  const thisMonth = billingPeriod(Date.now(), 'UTC');
  const closedAt = billingPeriod(thisMonth.end, 'UTC').end + 2 * 3_600_000;
  await new Statements(sqlite, { graceMs: 3_600_000, lateWindowMs: 36 * 86_400_000 })
    .closeDue((await sqlite.getGroup(customer.groupId))!, (await sqlite.getPlan(customer.planId))!, closedAt);
  const period = new Date(thisMonth.start).toISOString().slice(0, 7);
  const closedStatement = (await sqlite.getStatement(customer.groupId, period))!;
  assert.equal(closedStatement.total, 1, '3 images at 0.002 EUR, rounded to a cent; ocr and pdf have no price');
  await sqlite.close();

  // ---- the migration
  const migrated = await cli(migrateArgs(dataDir));
  assert.equal(migrated.code, 0, migrated.stdout + migrated.stderr);
  const out = migrated.stdout;
  assert.ok(!(out + migrated.stderr).includes(PASSWORD), 'the password is never printed');
  assert.match(out, /into PostgreSQL postgres:\/\/tollgate:\*\*\*@127\.0\.0\.1:\d+\/postgres/);
  for (const [table, rows] of Object.entries({
    plans: 1, customer_groups: 1, apps: 1, api_keys: 1, service_tokens: 1,
    events: 3 + EVENTS, event_keys: EVENTS, check_replies: 3, statements: 2,
    alert_settings: 1, alerts: 1, webhook_endpoints: 1, webhook_deliveries: 1, webhook_attempts: 1, ended_sessions: 1,
    credit_grants: 4, credit_debts: 1,
  })) {
    assert.match(out, new RegExp(`^  ${table} +${rows.toLocaleString('en-US')}$`, 'm'), `${table}: ${rows} in\n${out}`);
  }
  assert.match(out, /^  rollup_day +[1-9]/m);
  assert.match(out, new RegExp(`^verified: .*\\(1 group, ${units.toLocaleString('en-US')} units\\)`, 'm'));
  assert.match(out, /TOLLGATE_ADMIN_TOKEN/);
  assert.match(out, new RegExp(`TOLLGATE_WEBHOOK_SECRET on every instance to the one in ${join(dataDir, 'webhook-secret')}`));

  const copied = await snapshot(cluster.postgres.url);
  assert.equal(copied.events, String(3 + EVENTS));
  assert.equal(copied.units, String(units));

  // ---- a second run into the same database is refused and changes nothing
  const again = await cli(migrateArgs(dataDir));
  assert.equal(again.code, 1, again.stdout + again.stderr);
  assert.match(again.stderr, /already holds plans and events.*Nothing was written/);
  assert.deepEqual(await snapshot(cluster.postgres.url), copied);

  // ---- a scale-out server on the migrated database
  // With the embedded server's webhook secret, as the summary says: the endpoint keeps its signing secret.
  const scaleOut = await cluster.spawn({ env: { TOLLGATE_WEBHOOK_SECRET: readFileSync(join(dataDir, 'webhook-secret'), 'utf8').trim() } });
  assert.match(scaleOut.output(), /Store: scale-out/);
  const scaleOutAdmin = adminClient(scaleOut.url);
  const log = (await scaleOutAdmin.get(`/admin/groups/${customer.groupId}/webhook-deliveries`)).body.items;
  assert.deepEqual(log, [delivered], 'the delivery log, attempts included');
  const settings = (await scaleOutAdmin.get(`/admin/groups/${customer.groupId}/alert-settings`)).body;
  assert.deepEqual([settings.thresholds, settings.credits_low], [[1], { below_share: 0.3 }], 'credits_low is copied too');
  const replayed = await scaleOutAdmin.post(`/admin/webhook-deliveries/${delivered.id}/replay`);
  assert.equal(replayed.status, 201);
  await until('the replay', () => hooks.received.length === 2);
  const resentHook = hooks.received[1]!;
  assert.equal(resentHook.body, hooks.received[0]!.body);
  assert.ok(verifyTollgateSignature(endpoint.body.secret, resentHook.headers['tollgate-signature'] as string, resentHook.body), 'signed with the secret shown at creation');
  await hooks.close();

  const dashboard = (session: { cookie: string }) => request(`${scaleOut.url}/dashboard/api/admin/groups`, { headers: { cookie: session.cookie } });
  assert.equal((await dashboard(keptSession)).status, 200, 'a session of the embedded server opens here');
  assert.equal((await dashboard(endedSession)).status, 401, 'a session signed out of there stays ended');

  const usageAfter = await usage(scaleOut.url);
  assert.equal(usageAfter.status, 200, JSON.stringify(usageAfter.body));
  assert.equal(usageAfter.body.monthly_used, usageBefore.body.monthly_used, 'the same key, the same monthly usage');
  const monthAfter = await monthByApp(scaleOut.url);
  assert.equal(monthAfter.status, 200);
  assert.deepEqual(monthAfter.body, monthBefore.body, 'the same usage records');

  const creditsAfter = await scaleOutAdmin.get(`/admin/groups/${customer.groupId}/grants?include_voided=true`);
  assert.deepEqual(creditsAfter.body, creditsBefore, 'credits are copied, debt and all, and the period grant is not issued again');
  const regrant = await scaleOutAdmin.post(`/admin/groups/${customer.groupId}/grants`, { amount: 100, idempotency_key: 'g-100' });
  assert.equal(regrant.status, 200, 'idempotency keys of grants are copied too');

  const planAfter = await scaleOutAdmin.get(`/admin/plans/${customer.planId}`);
  assert.deepEqual([planAfter.body.currency, planAfter.body.prices], ['EUR', prices], 'plan prices are copied');
  assert.deepEqual([planAfter.body.limits, planAfter.body.credits], [limits, credits], 'named limits and credits are copied');
  const groupAfter = (await scaleOutAdmin.get(`/admin/groups/${customer.groupId}`)).body;
  assert.deepEqual([groupAfter.limit_overrides, groupAfter.limits], [groupDeal.limit_overrides, groupDeal.limits], "the group's deal is copied");
  assert.deepEqual((await scaleOutAdmin.get(`/admin/apps/${customer.appId}`)).body.limit_overrides, { 'pages-day': 2500 }, "the app's overrides are copied");
  const statementAfter = await scaleOutAdmin.get(`/admin/groups/${customer.groupId}/statements/${period}`);
  assert.equal(statementAfter.status, 200, JSON.stringify(statementAfter.body));
  assert.deepEqual(statementAfter.body, JSON.parse(closedStatement.document), 'closed statements are copied');

  const replay = await check(scaleOut.url, 'order-2');
  assert.equal(replay.body.allowed, true);
  assert.equal(replay.body.replayed, true, 'an idempotency key used before the migration is replayed');
  assert.equal((await usage(scaleOut.url)).body.monthly_used, units, 'and not counted again');

  const resent = await ingest(scaleOut.url, [events[0], events[EVENTS - 1]]);
  assert.deepEqual(resent.body, { accepted: 0, duplicates: 2, rejected: [] }, 'event ids sent before the migration are duplicates');

  // The debt is repaid first from a grant made on the scale-out server; the call is charged what is left.
  const topUp = await scaleOutAdmin.post(`/admin/groups/${customer.groupId}/grants`, { amount: creditsBefore.debt + 10, idempotency_key: 'top-up' });
  assert.equal(topUp.status, 201);
  const fresh = await check(scaleOut.url, 'order-4');
  assert.equal(fresh.body.allowed, true, JSON.stringify(fresh.body));
  assert.equal(fresh.body.replayed, false);
  assert.equal(fresh.body.monthly_used, units + 1, 'new calls count on top of the migrated usage');
  assert.deepEqual(fresh.body.credits, { charged: 1, balance: creditsBefore.balance + creditsBefore.debt + 10 - 1 }, 'and are charged on top of the migrated credits');
  assert.equal((await usage(scaleOut.url)).body.monthly_used, units + 1);
});

test('migrate needs a database URL and an existing embedded store', { timeout: 30_000 }, async () => {
  const noUrl = await cli(['migrate', '--from', cluster.tempDir()]);
  assert.equal(noUrl.code, 2);
  assert.match(noUrl.stderr, /--database-url postgres:\/\/\.\.\. or TOLLGATE_DATABASE_URL/);

  const missing = join(cluster.tempDir(), 'nothing-here');
  const noStore = await cli(['migrate', '--from', missing, '--database-url', cluster.postgres.url]);
  assert.equal(noStore.code, 1);
  assert.match(noStore.stderr, /No embedded store in .*nothing-here/);
});
