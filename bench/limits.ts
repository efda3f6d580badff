import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type autocannon from 'autocannon';
import type { CheckOptions } from './check.js';
import pg from 'pg';
import { startServer, treeCpuMs, type ChildServer } from './lib/child.js';
import { startPostgres, startRedis, type DatabaseServer } from './lib/databases.js';
import { adminApi, type AdminApi } from './lib/http.js';
import { runLoad } from './lib/load.js';
import { BENCH_ADMIN_TOKEN, serverScript } from './lib/paths.js';
import { int, log, median, met, ratio } from './lib/stats.js';

/**
 * What named limits and credits cost a check: one embedded server, two
 * catalogues on it, measured in alternating rounds so that both see the same
 * machine. "Today's" plan has the two shorthand limits (a monthly quota and a
 * per-minute limit); the other is the issue's example plan: the same two plus
 * four named limits (a billing-period limit on some kinds, a day, a per-key
 * second and a per-app minute) and credits priced per kind, with a grant.
 * Every limit is large enough never to refuse, so both sides do the whole
 * decision and record every call. The figure is the server's CPU per answered
 * check (all threads), the cost that does not depend on how busy the load
 * generator keeps it.
 */

/** The check bench's load settings (keys per plan, spread over `groups` groups, one app each), and how many measured rounds per plan. */
export type LimitsOptions = Omit<CheckOptions, 'auth'> & { rounds: number; store: LimitsStore };

/** embedded: one server on SQLite; scale-out: one strict instance on PostgreSQL and Redis, their CPU counted with the server's. */
export type LimitsStore = 'embedded' | 'scale-out';

export interface LimitsReport {
  options: LimitsOptions;
  /** Server CPU per answered check in each measured round, in microseconds. */
  cpuUsPerCall: { today: number[]; limits: number[] };
  /** The same, per process (Tollgate, then PostgreSQL and Redis on the scale-out store): where the difference goes. */
  cpuUsPerCallByProcess: { names: string[]; today: number[][]; limits: number[][] };
  reqPerSec: { today: number[]; limits: number[] };
  /** limits / today per round, and their median: the figure the target is about. */
  ratios: number[];
  medianRatio: number;
  target: string;
  durability: { eventRows: number; admittedAnswers: number; equal: boolean };
  /** What the credits hold after the run, against what was charged. */
  credits: { charged: number; spentFromGrants: number; equal: boolean };
  failures: string[];
  warnings: string[];
}

const HUGE = 1_000_000_000;
const USAGE_TYPES = ['image', 'image-async', 'pdf', 'text', 'llm'];
const PER_UNIT: Record<string, number> = { image: 1, pdf: 5, '*': 1 };
const admitted = (body: string): boolean => body.includes('"allowed":true');

const TODAY_PLAN = { id: 'bl-today', monthly_quota: HUGE, rate_limit_per_minute: HUGE, time_zone: 'Asia/Kolkata' };
const LIMITS_PLAN = {
  ...TODAY_PLAN,
  id: 'bl-limits',
  limits: [
    { name: 'images-month', usage_types: ['image', 'image-async'], window: 'billing_period', units: HUGE },
    { name: 'pages-day', usage_types: ['pdf'], window: 'day', units: HUGE },
    { name: 'burst', window: 'second', units: HUGE, scope: 'key' },
    { name: 'tokens-minute', usage_types: ['llm'], window: 'minute', units: HUGE, scope: 'app' },
  ],
  credits: { per_unit: PER_UNIT },
};
const GRANT = 1_000_000_000_000;

async function catalogue(admin: AdminApi, plan: { id: string }, prefix: string, options: LimitsOptions, grant: boolean) {
  await admin('POST', '/admin/plans', plan);
  const keys: string[] = [];
  const perGroup = Math.max(1, Math.round(options.keys / options.groups));
  for (let g = 0; g < options.groups; g += 1) {
    const groupId = `${prefix}-group-${g}`;
    await admin('POST', '/admin/groups', { id: groupId, name: groupId, plan_id: plan.id });
    if (grant) await admin('POST', `/admin/groups/${groupId}/grants`, { amount: GRANT, note: 'bench' });
    for (let a = 0; a < perGroup; a += 1) {
      const appId = `${prefix}-app-${g}-${a}`;
      await admin('POST', `/admin/groups/${groupId}/apps`, { id: appId });
      keys.push((await admin<{ key: string }>('POST', `/admin/apps/${appId}/keys`, { name: 'bench' })).key);
    }
  }
  return keys;
}

function requestsFor(keys: string[], bearer: string): autocannon.Request[] {
  return keys.map((key, i) => ({
    method: 'POST',
    path: '/v1/check',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ key, usage_type: USAGE_TYPES[i % USAGE_TYPES.length], request_args: { page: i % 8 } }),
  }));
}

export async function runLimitsBench(options: LimitsOptions): Promise<LimitsReport> {
  const failures: string[] = [];
  const warnings: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-limits-'));
  let server: ChildServer | null = null;
  const databases: DatabaseServer[] = [];
  try {
    const env: NodeJS.ProcessEnv = { TOLLGATE_DATA_DIR: dataDir, TOLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn' };
    if (options.store === 'scale-out') {
      const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
      databases.push(postgres, redis);
      Object.assign(env, { TOLLGATE_DATABASE_URL: postgres.url, TOLLGATE_REDIS_URL: redis.url, TOLLGATE_WEBHOOK_SECRET: 'bench-webhook-secret-0123456789abcdef0123' });
    }
    server = await startServer('tollgate', serverScript('tollgate-server'), env);
    const cpuPids = [server.pid, ...databases.map((d) => d.pid)];
    const processNames = options.store === 'scale-out' ? ['Tollgate', 'PostgreSQL', 'Redis'] : ['Tollgate'];
    const admin = adminApi(server.url, BENCH_ADMIN_TOKEN);
    const bearer = (await admin<{ token: string }>('POST', '/admin/service-tokens', { name: 'bench' })).token;
    const today = requestsFor(await catalogue(admin, TODAY_PLAN, 'bt', options, false), bearer);
    const limits = requestsFor(await catalogue(admin, LIMITS_PLAN, 'bl', options, true), bearer);
    log(`limits (${options.store}): ${options.keys} keys in ${options.groups} groups per plan; ${options.connections} connections; ${options.rounds} rounds of ${options.durationS} s per plan, alternating`);

    const report: LimitsReport['cpuUsPerCall'] = { today: [], limits: [] };
    const rates: LimitsReport['reqPerSec'] = { today: [], limits: [] };
    const byProcess: LimitsReport['cpuUsPerCallByProcess'] = { names: processNames, today: [], limits: [] };
    let admittedAnswers = 0;
    const run = async (side: 'today' | 'limits', requests: autocannon.Request[], durationS: number, measured: boolean) => {
      const load = await (async () => {
        const before = cpuPids.map((pid) => treeCpuMs([pid]));
        const result = await runLoad({ url: server!.url, connections: options.connections, durationS, requests, admitted });
        const after = cpuPids.map((pid) => treeCpuMs([pid]));
        const parts = after.map((a, i) => (a === null || before[i] === null || result.answered === 0 ? null : ((a - before[i]!) * 1000) / result.answered));
        const known = parts.every((part) => part !== null);
        return { result, parts, cpuUs: known ? parts.reduce((sum: number, part) => sum + part!, 0) : null };
      })();
      admittedAnswers += load.result.admitted;
      if (load.result.non2xx > 0 || load.result.errors > 0 || load.result.notAdmitted > 0 || !load.result.drained) {
        warnings.push(`${side}: ${load.result.non2xx} non-2xx, ${load.result.errors} errors, ${load.result.notAdmitted} not admitted, ${load.result.inFlightAtEnd} in flight at the end`);
      }
      if (!measured) return;
      if (load.cpuUs !== null) {
        report[side].push(load.cpuUs);
        byProcess[side].push(load.parts as number[]);
      }
      rates[side].push(load.result.reqPerSec);
      const split = processNames.length > 1 ? ` (${processNames.map((name, i) => `${name} ${load.parts[i]?.toFixed(1) ?? '?'}`).join(' + ')})` : '';
      log(`limits: ${side.padEnd(6)} ${int(load.result.reqPerSec)} req/s, ${load.cpuUs?.toFixed(1) ?? '?'} µs CPU per check${split}`);
    };
    await run('today', today, options.warmupS, false);
    await run('limits', limits, options.warmupS, false);
    for (let r = 0; r < options.rounds; r += 1) {
      // Alternate which side goes first, so neither always runs on a warmer (or busier) machine.
      const order = r % 2 === 0 ? (['today', 'limits'] as const) : (['limits', 'today'] as const);
      for (const side of order) await run(side, side === 'today' ? today : limits, options.durationS, true);
    }

    const balance = await sumBalances(server.url, options);
    const stop = await server.stop();
    server = null;
    if (stop.code !== 0 || stop.killed) failures.push(`tollgate did not stop cleanly on SIGTERM (code ${stop.code}, signal ${stop.signal})`);

    // What was recorded, and what the credits plan's recorded calls cost, priced as the plan prices them.
    const { eventRows, perKind } = options.store === 'embedded' ? sqliteRecorded(join(dataDir, 'tollgate.db')) : await postgresRecorded(databases[0]!.url);
    const chargedCredits = perKind.reduce((sum, row) => sum + row.units * (PER_UNIT[row.usage_type] ?? PER_UNIT['*']!), 0);
    const equal = eventRows === admittedAnswers;
    if (!equal) failures.push(`limits: the events table holds ${eventRows} rows but ${admittedAnswers} checks were answered allowed=true`);
    const spentFromGrants = options.groups * GRANT - balance;
    const creditsEqual = spentFromGrants === chargedCredits;
    if (!creditsEqual) failures.push(`limits: the grants lost ${spentFromGrants} credits but the admitted checks cost ${chargedCredits}`);

    const ratios = report.today.map((t, i) => (report.limits[i] ?? Number.NaN) / t).filter(Number.isFinite);
    const medianRatio = median(ratios);
    log(`limits: CPU per check, four named limits and credits / today's plan: ${ratios.map(ratio).join(', ')}; median ${ratio(medianRatio)}`);
    return {
      options, cpuUsPerCall: report, cpuUsPerCallByProcess: byProcess, reqPerSec: rates, ratios, medianRatio, target: met(medianRatio <= 1.3),
      durability: { eventRows, admittedAnswers, equal },
      credits: { charged: chargedCredits, spentFromGrants, equal: creditsEqual },
      failures, warnings,
    };
  } finally {
    if (server !== null) await server.stop(10_000).catch(() => undefined);
    for (const database of databases) await database.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Recorded {
  eventRows: number;
  /** Units per usage type of the credits plan's groups. */
  perKind: Array<{ usage_type: string; units: number }>;
}

const PER_KIND_SQL = "SELECT usage_type, SUM(count) AS units FROM events WHERE group_id LIKE 'bl-%' GROUP BY usage_type";

function sqliteRecorded(file: string): Recorded {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const eventRows = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    return { eventRows, perKind: db.prepare(PER_KIND_SQL).all() as Recorded['perKind'] };
  } finally {
    db.close();
  }
}

async function postgresRecorded(url: string): Promise<Recorded> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query<{ n: string }>('SELECT COUNT(*)::text AS n FROM events');
    const perKind = await client.query<{ usage_type: string; units: string }>(PER_KIND_SQL);
    return { eventRows: Number(rows.rows[0]!.n), perKind: perKind.rows.map((r) => ({ usage_type: r.usage_type, units: Number(r.units) })) };
  } finally {
    await client.end();
  }
}

async function sumBalances(url: string, options: LimitsOptions): Promise<number> {
  let total = 0;
  for (let g = 0; g < options.groups; g += 1) {
    const res = await fetch(`${url}/admin/groups/bl-group-${g}/grants`, { headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` } });
    total += ((await res.json()) as { balance: number }).balance;
  }
  return total;
}

/** The summary table's rows for this bench. */
export function limitsSummaryRows(report: LimitsReport): string[][] {
  const t = median(report.cpuUsPerCall.today);
  const l = median(report.cpuUsPerCall.limits);
  const { names } = report.cpuUsPerCallByProcess;
  const split = (side: 'today' | 'limits') => names.map((name, i) => `${name} ${median(report.cpuUsPerCallByProcess[side].map((parts) => parts[i]!)).toFixed(1)}`).join(' + ');
  const byProcess = names.length < 2 ? [] : [[`check CPU by process (${report.options.store})`, split('limits'), split('today'), '', 'µs per check, medians over the rounds']];
  return [
    [`check CPU, 4 limits + credits (${report.options.store})`, `${l.toFixed(1)} µs`, `${t.toFixed(1)} µs`, ratio(report.medianRatio),
      `baseline: today's plan (quota + minute), same server${report.options.store === 'scale-out' ? '; Tollgate + PostgreSQL + Redis CPU' : ''}, ${report.ratios.length} alternating rounds (${report.ratios.map(ratio).join(', ')}); ${report.target} (<= 1.3x)`],
    ...byProcess,
    [`check req/s, 4 limits + credits (${report.options.store})`, int(median(report.reqPerSec.limits)), int(median(report.reqPerSec.today)), ratio(median(report.reqPerSec.limits) / median(report.reqPerSec.today)), 'medians over the rounds'],
    ['limits durability', `${int(report.durability.eventRows)} rows`, `${int(report.durability.admittedAnswers)} admitted`, '', report.durability.equal ? 'equal (ok)' : 'DIFFERENT (failure)'],
    ['credits spent', int(report.credits.spentFromGrants), `${int(report.credits.charged)} priced`, '', report.credits.equal ? 'equal to the recorded calls priced per kind (ok)' : 'DIFFERENT (failure)'],
  ];
}
