import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startServer, treeCpuMs, type ChildServer, type StopResult } from './lib/child.js';
import { startPostgres, startRedis, type DatabaseServer } from './lib/databases.js';
import { adminApi, createCatalogue, requestJson } from './lib/http.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { BENCH_ADMIN_TOKEN, serverScript } from './lib/paths.js';
import { int, log, met, ms, ratio, round } from './lib/stats.js';

export interface ScaleOutOptions {
  /** Connections in all, split evenly over a configuration's instances. */
  connections: number;
  durationS: number;
  warmupS: number;
  keys: number;
  groups: number;
}

/**
 * A deployment the benchmark measures. Every configuration gets the same
 * load (`connections` in all, split evenly over its instances, one
 * autocannon run per instance at once), its own fresh data directory,
 * PostgreSQL and Redis, and the same correctness check afterwards.
 */
export interface Configuration {
  name: string;
  description: string;
  instances: number;
  store: 'embedded' | 'scale-out';
  /** Extra environment of every instance. */
  env?: Record<string, string>;
}

export const EMBEDDED: Configuration = { name: 'embedded', description: 'one instance, SQLite', instances: 1, store: 'embedded' };
export const SCALE_OUT: Configuration = {
  name: 'scale-out', description: 'two instances on one PostgreSQL and one Redis', instances: 2, store: 'scale-out',
};
export const SCALE_OUT_RELAXED: Configuration = {
  name: 'relaxed', description: 'two instances, relaxed limits synced every 100 ms', instances: 2, store: 'scale-out',
  env: { TOLLGATE_LIMITS_MODE: 'relaxed', TOLLGATE_LIMITS_SYNC_MS: '100' },
};

/** What `--only scale-out` runs, in this order; the first is the baseline of the ratios. */
export const SCALE_OUT_CONFIGURATIONS: readonly Configuration[] = [EMBEDDED, SCALE_OUT, SCALE_OUT_RELAXED];

/** CPU time over the measured period, per part of the set-up. */
export interface CpuReport {
  wallMs: number;
  /** Busy time of the whole machine (all cores), from /proc/stat. */
  machineBusyMs: number | null;
  machineCores: number;
  /** CPU milliseconds of each part: tollgate (all instances), postgres (every backend), redis, load generator (this process). */
  ms: Record<string, number | null>;
  /** The same per answered check, in microseconds. */
  usPerCheck: Record<string, number | null>;
}

export interface RedisReport {
  /** Checks answered in the measured period, the divisor. */
  checks: number;
  /** INFO commandstats difference over the measured period, without the benchmark's own INFO calls; Redis 7 counts the commands a script runs, too. */
  serverCommands: number;
  serverPerCheck: number;
  serverByCommand: Record<string, number>;
  /** Commands the instances wrote to their Redis connections, counted in the instances: a check's round trips to Redis. */
  clientCommands: number | null;
  roundTripsPerCheck: number | null;
  clientByCommand: Record<string, number> | null;
  /** Socket writes that carried those commands: fewer than the commands when auto-pipelining batches them. */
  writesPerCheck: number | null;
}

export interface ConfigurationReport {
  configuration: Configuration;
  connections: number[];
  warmup: LoadResult[];
  measured: LoadResult[];
  total: {
    /** Sum over the instances of autocannon's average req/s. */
    reqPerSec: number;
    answered: number;
    /** The worse instance's percentile (an upper bound of the merged one). */
    latencyP50Ms: number;
    latencyP99Ms: number;
    non2xx: number;
    errors: number;
  };
  /** Against the first configuration of the run (the baseline); 1 for the baseline itself. */
  vsBaseline: { reqPerSec: number; p99: number };
  cpu: CpuReport;
  redis: RedisReport | null;
  /**
   * One group's quota of `quota` units spent through all instances at once
   * (the same load, one key): how many checks were admitted, and by how
   * many the instances together went over. Zero in strict mode.
   */
  overshoot: { quota: number; admitted: number; over: number };
  /** Units the store holds after a SIGTERM stop, against the answers that said allowed=true (priming checks, warm-up and measured run). */
  durability: { store: 'sqlite' | 'postgres'; units: number; admittedAnswers: number; status2xx: number; equal: boolean; exact: boolean };
  meanBatch: Array<number | null>;
  stops: StopResult[];
}

export interface ScaleOutReport {
  options: ScaleOutOptions;
  configurations: ConfigurationReport[];
  failures: string[];
  warnings: string[];
}

const USAGE_TYPES = ['image', 'image-async', 'pdf', 'text'];
/** The quota the overshoot phase spends. */
const OVERSHOOT_QUOTA = 5_000;
/** The plan is unlimited, so every answered check should say allowed=true; only those count. */
const admitted = (body: string): boolean => body.includes('"allowed":true');

/**
 * Embedded against scale-out under the same load, in one run: POST /v1/check
 * under autocannon on one SQLite instance, then on two instances sharing one
 * PostgreSQL and one Redis (the load split evenly, both halves at once).
 * Reports the checks/s and p99 of each, the ratio, the Redis commands per
 * check (as Redis counts them and as the instances sent them), where the CPU
 * went, and checks that the units recorded equal the allowed answers.
 */
export async function runScaleOutBench(options: ScaleOutOptions, configurations: readonly Configuration[] = SCALE_OUT_CONFIGURATIONS): Promise<ScaleOutReport> {
  const failures: string[] = [];
  const warnings: string[] = [];
  const reports: ConfigurationReport[] = [];
  for (const configuration of configurations) {
    const report = await runConfiguration(configuration, options, failures, warnings);
    const baseline = reports[0] ?? report;
    report.vsBaseline = {
      reqPerSec: report.total.reqPerSec / baseline.total.reqPerSec,
      p99: report.total.latencyP99Ms / baseline.total.latencyP99Ms,
    };
    reports.push(report);
  }
  return { options, configurations: reports, failures, warnings };
}

async function runConfiguration(configuration: Configuration, options: ScaleOutOptions, failures: string[], warnings: string[]): Promise<ConfigurationReport> {
  const name = configuration.name;
  if (configuration.store === 'embedded' && configuration.instances !== 1) throw new Error(`${name}: an embedded store serves one instance`);
  if (options.connections < configuration.instances) throw new Error(`${name}: --connections must be at least ${configuration.instances}`);
  const dir = mkdtempSync(join(tmpdir(), `tollgate-bench-${name}-`));
  // Undone in reverse order whatever happens: instances, then the bench's clients, then the servers, then the directory.
  const cleanups: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  try {
    let postgres: DatabaseServer | null = null;
    let redis: DatabaseServer | null = null;
    let redisClient: Redis | null = null;
    if (configuration.store === 'scale-out') {
      const pgServer = await startPostgres();
      postgres = pgServer;
      cleanups.push(() => pgServer.stop());
      const redisServer = await startRedis();
      redis = redisServer;
      cleanups.push(() => redisServer.stop());
      const client = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      redisClient = client;
      cleanups.push(async () => client.disconnect());
    }

    const counter = pathToFileURL(serverScript('redis-command-counter')).href;
    const countsFiles: string[] = [];
    const instances: ChildServer[] = [];
    for (let i = 0; i < configuration.instances; i += 1) {
      const env: NodeJS.ProcessEnv = {
        TOLLGATE_DATA_DIR: join(dir, `instance-${i + 1}`), TOLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn',
        // Required in scale-out mode; harmless for the embedded instance.
        TOLLGATE_WEBHOOK_SECRET: 'bench-webhook-secret-0123456789abcdef0123',
        ...configuration.env,
      };
      if (postgres !== null && redis !== null) {
        const countsFile = join(dir, `redis-commands-${i + 1}.json`);
        countsFiles.push(countsFile);
        Object.assign(env, {
          TOLLGATE_DATABASE_URL: postgres.url, TOLLGATE_REDIS_URL: redis.url,
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${counter}"`.trim(), BENCH_REDIS_COUNTS_FILE: countsFile,
        });
      }
      const instance = await startServer(`${name}-${i + 1}`, serverScript('tollgate-server'), env);
      instances.push(instance);
      cleanups.push(() => instance.stop(10_000));
    }

    const admin = adminApi(instances[0]!.url, BENCH_ADMIN_TOKEN);
    const appsPerGroup = Math.max(1, Math.round(options.keys / options.groups));
    const catalogue = await createCatalogue(admin, { prefix: 'so', groups: options.groups, appsPerGroup });
    const { token } = await admin<{ token: string }>('POST', '/admin/service-tokens', { name: 'bench' });
    const requests: autocannon.Request[] = catalogue.keys.map((k, i) => ({
      method: 'POST',
      path: '/v1/check',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ key: k.key, usage_type: USAGE_TYPES[i % USAGE_TYPES.length], request_args: { page: i % 8, lang: 'en' } }),
    }));
    const connections = instances.map((_, i) => Math.floor(options.connections / instances.length) + (i < options.connections % instances.length ? 1 : 0));
    log(`scale-out: ${name} (${configuration.description}): ${catalogue.keys.length} keys in ${catalogue.groups.length} groups; `
      + `${options.connections} connections (${connections.join(' + ')}), ${options.warmupS} s warm-up + ${options.durationS} s`);

    // One check per key on every instance first: each instance has every key in its catalogue cache and every quota
    // counter is seeded in Redis, so the warm-up and the measured run see the steady state only.
    let primed = 0;
    for (const instance of instances) {
      for (const request of requests) {
        const res = await requestJson(`${instance.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.parse(request.body as string) });
        if (res.status !== 200) throw new Error(`${instance.label}: priming check answered ${res.status} ${res.text.slice(0, 200)}`);
        if (admitted(res.text)) primed += 1;
      }
    }

    const load = (durationS: number) => Promise.all(instances.map((instance, i) => runLoad({
      url: instance.url, connections: connections[i]!, requests, admitted, durationS,
    })));
    const warmup = await load(options.warmupS);

    const parts = { tollgate: instances.map((s) => s.pid), postgres: postgres === null ? [] : [postgres.pid], redis: redis === null ? [] : [redis.pid] };
    const clientBefore = countsFiles.length === 0 ? null : await Promise.all(instances.map((s, i) => clientCommands(s, countsFiles[i]!)));
    const serverBefore = redisClient === null ? null : await commandStats(redisClient);
    const cpuBefore = cpuSnapshot(parts);
    const measured = await load(options.durationS);
    const cpuAfter = cpuSnapshot(parts);
    const serverAfter = redisClient === null ? null : await commandStats(redisClient);
    const clientAfter = countsFiles.length === 0 ? null : await Promise.all(instances.map((s, i) => clientCommands(s, countsFiles[i]!)));

    const answered = measured.reduce((n, r) => n + r.answered, 0);
    const total = {
      reqPerSec: measured.reduce((n, r) => n + r.reqPerSec, 0),
      answered,
      latencyP50Ms: Math.max(...measured.map((r) => r.latencyP50Ms)),
      latencyP99Ms: Math.max(...measured.map((r) => r.latencyP99Ms)),
      non2xx: measured.reduce((n, r) => n + r.non2xx, 0),
      errors: measured.reduce((n, r) => n + r.errors, 0),
    };
    const cpu = cpuReport(cpuBefore, cpuAfter, answered);
    const redisReport = serverBefore === null || serverAfter === null ? null : redisFigures(serverBefore, serverAfter, clientBefore, clientAfter, answered);
    log(`scale-out: ${name.padEnd(9)} ${int(total.reqPerSec)} checks/s, p99 ${ms(total.latencyP99Ms)}`
      + (instances.length > 1 ? ` (${measured.map((r) => `${int(r.reqPerSec)}/s p99 ${ms(r.latencyP99Ms)}`).join(', ')})` : '')
      + `; CPU per check: ${Object.entries(cpu.usPerCheck).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${v!.toFixed(0)} µs`).join(', ')}`
      + (cpu.machineBusyMs === null ? '' : `; machine ${((cpu.machineBusyMs / cpu.wallMs / cpu.machineCores) * 100).toFixed(0)}% busy`));
    if (redisReport !== null) {
      log(`scale-out: ${name.padEnd(9)} Redis per check: ${redisReport.roundTripsPerCheck === null ? '?' : redisReport.roundTripsPerCheck.toFixed(2)} round trips `
        + `(${perCheck(redisReport.clientByCommand, answered)}) in ${redisReport.writesPerCheck === null ? '?' : redisReport.writesPerCheck.toFixed(3)} socket writes; `
        + `${redisReport.serverPerCheck.toFixed(2)} commands as Redis counts them (${perCheck(redisReport.serverByCommand, answered)})`);
    }
    instances.forEach((instance, i) => {
      for (const [phase, r] of [['warm-up', warmup[i]!], ['measured', measured[i]!]] as const) {
        if (r.non2xx > 0 || r.errors > 0 || r.notAdmitted > 0) {
          warnings.push(`${instance.label} ${phase}: ${r.non2xx} non-2xx, ${r.errors} errors (${r.timeouts} timeouts), ${r.notAdmitted} answers without allowed=true`);
        }
      }
    });

    const overshoot = await spendQuota(admin, instances, connections, options.durationS);
    log(`scale-out: ${name.padEnd(9)} quota of ${int(overshoot.quota)} spent through ${instances.length} instance(s): ${int(overshoot.admitted)} admitted, `
      + `${int(overshoot.over)} over (${((overshoot.over / overshoot.quota) * 100).toFixed(2)}%)`);
    if (overshoot.admitted < overshoot.quota) failures.push(`${name} overshoot phase: the quota of ${overshoot.quota} was not spent (${overshoot.admitted} admitted)`);
    if (configuration.env?.TOLLGATE_LIMITS_MODE !== 'relaxed' && overshoot.over !== 0) failures.push(`${name}: strict limits admitted ${overshoot.over} checks over the quota`);

    // Stop every instance (SIGTERM: each drains its group commits), then count what the store holds.
    const stops: StopResult[] = [];
    for (const instance of instances) {
      const stop = await instance.stop();
      stops.push(stop);
      if (stop.code !== 0 || stop.killed) {
        failures.push(`${instance.label} did not stop cleanly on SIGTERM (code ${stop.code}, signal ${stop.signal}${stop.killed ? ', killed' : ''})`);
      }
    }
    const units = postgres === null ? sqliteUnits(join(dir, 'instance-1', 'tollgate.db')) : await postgresUnits(postgres.url);
    const phases = [...warmup, ...measured, ...overshoot.runs];
    const admittedAnswers = primed + phases.reduce((n, r) => n + r.admitted, 0);
    const status2xx = requests.length * instances.length + phases.reduce((n, r) => n + r.status2xx, 0);
    const inFlight = phases.reduce((n, r) => n + r.inFlightAtEnd, 0);
    const exact = inFlight === 0;
    const equal = units === admittedAnswers;
    log(`scale-out: ${name.padEnd(9)} durability: ${int(units)} units in ${postgres === null ? 'SQLite' : 'PostgreSQL'}, ${int(admittedAnswers)} answers allowed=true `
      + `(of ${int(status2xx)} 2xx)${exact ? '' : ` (${inFlight} requests unanswered at the end)`}: ${equal ? 'equal' : 'DIFFERENT'}`);
    if (!equal) {
      if (exact || units < admittedAnswers || units > admittedAnswers + inFlight) {
        failures.push(`${name} durability: the store holds ${units} units but ${admittedAnswers} checks were answered allowed=true`
          + (exact ? '' : ` (${inFlight} more were unanswered when the connections closed)`));
      } else {
        warnings.push(`${name} durability: ${units - admittedAnswers} units for requests left unanswered by the load generator (${inFlight} in flight at the end); exact comparison not possible`);
      }
    }

    return {
      configuration,
      connections,
      warmup,
      measured,
      total,
      vsBaseline: { reqPerSec: 1, p99: 1 },
      cpu,
      redis: redisReport,
      overshoot: { quota: overshoot.quota, admitted: overshoot.admitted, over: overshoot.over },
      durability: { store: postgres === null ? 'sqlite' : 'postgres', units, admittedAnswers, status2xx, equal, exact },
      meanBatch: stops.map((s) => (s.stats as { meanBatch?: number | null } | null)?.meanBatch ?? null),
      stops,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => warnings.push(`${name}: clean-up failed: ${String(error)}`));
    }
  }
}

/**
 * A new group with a quota of OVERSHOOT_QUOTA and no rate limit, one key,
 * and the same connections as the measured run all checking with it for
 * `durationS` seconds: every check past the quota should be refused.
 */
async function spendQuota(admin: ReturnType<typeof adminApi>, instances: readonly ChildServer[], connections: readonly number[], durationS: number) {
  await admin('POST', '/admin/plans', { id: 'overshoot', monthly_quota: OVERSHOOT_QUOTA, rate_limit_per_minute: -1, time_zone: 'UTC' });
  await admin('POST', '/admin/groups', { id: 'overshoot', name: 'overshoot', plan_id: 'overshoot' });
  await admin('POST', '/admin/groups/overshoot/apps', { id: 'overshoot-app' });
  const { key } = await admin<{ key: string }>('POST', '/admin/apps/overshoot-app/keys', { name: 'bench' });
  const requests: autocannon.Request[] = [{
    method: 'POST', path: '/v1/check', headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_ADMIN_TOKEN}` },
    body: JSON.stringify({ key, usage_type: 'image' }),
  }];
  const runs = await Promise.all(instances.map((instance, i) => runLoad({ url: instance.url, connections: connections[i]!, requests, admitted, durationS })));
  const admittedChecks = runs.reduce((n, r) => n + r.admitted, 0);
  return { quota: OVERSHOOT_QUOTA, admitted: admittedChecks, over: Math.max(0, admittedChecks - OVERSHOOT_QUOTA), runs };
}

// ------------------------------------------------------------ stores

function sqliteUnits(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number((db.prepare('SELECT COALESCE(SUM(count), 0) AS n FROM events').get() as { n: number }).n);
  } finally {
    db.close();
  }
}

async function postgresUnits(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT COALESCE(SUM(count), 0)::text AS n FROM events');
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------ Redis commands

/** Calls per command from INFO commandstats (script-run commands included, as Redis 7 counts them). */
async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}

/**
 * The instance's own count of the commands it wrote to Redis
 * (bench/servers/redis-command-counter.ts): SIGUSR2, then wait for the
 * counter to write a newer snapshot.
 */
async function clientCommands(instance: ChildServer, file: string): Promise<Record<string, number> | null> {
  const read = (): { snapshot: number; counts: Record<string, number> } | null => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { snapshot: number; counts: Record<string, number> };
    } catch {
      return null;
    }
  };
  if (!existsSync(file)) return null;
  const before = read()?.snapshot ?? -1;
  process.kill(instance.pid, 'SIGUSR2');
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const now = read();
    if (now !== null && now.snapshot > before) return now.counts;
    await new Promise((r) => setTimeout(r, 10));
  }
  return null;
}

function diff(before: Record<string, number>, after: Record<string, number>, skip: readonly string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0 && !skip.includes(k)) out[k] = d;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((a, b) => a + b, 0);
}

/** The counter's entry for socket writes (bench/servers/redis-command-counter.ts), not a command. */
const WRITES = '(writes)';

function redisFigures(
  serverBefore: Record<string, number>, serverAfter: Record<string, number>,
  clientBefore: Array<Record<string, number> | null> | null, clientAfter: Array<Record<string, number> | null> | null, checks: number,
): RedisReport {
  // The benchmark's own INFO calls are not the instances' doing.
  const serverByCommand = diff(serverBefore, serverAfter, ['info']);
  let clientByCommand: Record<string, number> | null = null;
  if (clientBefore !== null && clientAfter !== null && [...clientBefore, ...clientAfter].every((c) => c !== null)) {
    const merged: Record<string, number> = {};
    clientAfter.forEach((after, i) => {
      for (const [k, v] of Object.entries(diff(clientBefore[i]!, after!))) merged[k] = (merged[k] ?? 0) + v;
    });
    clientByCommand = Object.fromEntries(Object.entries(merged).sort((a, b) => b[1] - a[1]));
  }
  const serverCommands = sum(serverByCommand);
  const writes = clientByCommand?.[WRITES] ?? null;
  if (clientByCommand !== null) delete clientByCommand[WRITES];
  const clientCommandsTotal = clientByCommand === null ? null : sum(clientByCommand);
  return {
    checks,
    serverCommands,
    serverPerCheck: checks === 0 ? Number.NaN : serverCommands / checks,
    serverByCommand,
    clientCommands: clientCommandsTotal,
    roundTripsPerCheck: clientCommandsTotal === null || checks === 0 ? null : clientCommandsTotal / checks,
    clientByCommand,
    writesPerCheck: writes === null || checks === 0 ? null : writes / checks,
  };
}

/** "evalsha 1.00, hmget 2.00" */
function perCheck(calls: Record<string, number> | null, checks: number): string {
  if (calls === null) return 'not counted';
  const entries = Object.entries(calls);
  if (entries.length === 0) return 'none';
  return entries.map(([k, v]) => `${k} ${(v / checks).toFixed(2)}`).join(', ');
}

// ------------------------------------------------------------ CPU

interface CpuSnapshot {
  at: number;
  parts: Record<string, number | null>;
  loadGeneratorMs: number;
  machine: { busyMs: number; cores: number } | null;
}

function machineBusy(): { busyMs: number; cores: number } | null {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const cpu = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!;
    return { busyMs: (busy * 1000) / 100, cores: lines.filter((l) => /^cpu\d+ /.test(l)).length };
  } catch {
    return null;
  }
}

function cpuSnapshot(parts: Record<string, readonly number[]>): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    parts: Object.fromEntries(Object.entries(parts).map(([k, pids]) => [k, treeCpuMs(pids)])),
    loadGeneratorMs: (usage.user + usage.system) / 1000,
    machine: machineBusy(),
  };
}

function cpuReport(before: CpuSnapshot, after: CpuSnapshot, checks: number): CpuReport {
  const msUsed: Record<string, number | null> = {};
  for (const k of Object.keys(after.parts)) {
    const a = after.parts[k];
    const b = before.parts[k];
    msUsed[k] = a === null || a === undefined || b === null || b === undefined ? null : a - b;
  }
  msUsed['load generator'] = after.loadGeneratorMs - before.loadGeneratorMs;
  const machineBusyMs = before.machine === null || after.machine === null ? null : after.machine.busyMs - before.machine.busyMs;
  if (machineBusyMs !== null) {
    const known = Object.values(msUsed).reduce<number>((a, b) => a + (b ?? 0), 0);
    msUsed.other = Math.max(0, machineBusyMs - known);
  }
  return {
    wallMs: after.at - before.at,
    machineBusyMs,
    machineCores: after.machine?.cores ?? 0,
    ms: msUsed,
    usPerCheck: Object.fromEntries(Object.entries(msUsed).map(([k, v]) => [k, v === null || checks === 0 ? null : (v * 1000) / checks])),
  };
}

// ------------------------------------------------------------ reporting

/** Rows of the summary table: each configuration against the first (the baseline). */
export function scaleOutSummaryRows(r: ScaleOutReport): string[][] {
  const rows: string[][] = [];
  const base = r.configurations[0];
  if (base === undefined) return rows;
  const tollgateUs = (c: ConfigurationReport): number | null => c.cpu.usPerCheck.tollgate ?? null;
  const us = (v: number | null) => (v === null ? '?' : `${v.toFixed(0)} µs`);
  const cpuNote = (c: ConfigurationReport) => {
    const rest = Object.entries(c.cpu.usPerCheck).filter(([k, v]) => k !== 'tollgate' && v !== null && v > 0).map(([k, v]) => `${k} ${v!.toFixed(0)}`);
    const busy = c.cpu.machineBusyMs === null ? '' : `; machine ${((c.cpu.machineBusyMs / c.cpu.wallMs / c.cpu.machineCores) * 100).toFixed(0)}% busy`;
    return `${rest.length === 0 ? '' : `+ ${rest.join(', ')} µs`}${busy}`;
  };
  rows.push([`${base.configuration.name} checks/s`, int(base.total.reqPerSec), '', '', `baseline: ${base.configuration.description}`]);
  rows.push([`${base.configuration.name} latency p99`, ms(base.total.latencyP99Ms), '', '', `p50 ${ms(base.total.latencyP50Ms)}`]);
  rows.push([`${base.configuration.name} CPU per check`, us(tollgateUs(base)), '', '', cpuNote(base)]);
  const baseBatch = base.meanBatch[0] ?? null;
  if (baseBatch !== null) rows.push([`${base.configuration.name} group commit batch`, baseBatch.toFixed(1), '', '', 'calls per fsync, last 1000 batches']);
  for (const c of r.configurations.slice(1)) {
    const n = c.configuration.name;
    rows.push([`${n} checks/s`, int(c.total.reqPerSec), int(base.total.reqPerSec), ratio(c.vsBaseline.reqPerSec),
      `${c.configuration.description} vs ${base.configuration.name}; ${c.measured.map((m) => int(m.reqPerSec)).join(' + ')}`]);
    rows.push([`${n} latency p99`, ms(c.total.latencyP99Ms), ms(base.total.latencyP99Ms), ratio(c.vsBaseline.p99),
      `worse instance; p50 ${ms(c.total.latencyP50Ms)} vs ${ms(base.total.latencyP50Ms)}`]);
    const t = tollgateUs(c);
    const b = tollgateUs(base);
    rows.push([`${n} CPU per check`, us(t), us(b), t === null || b === null ? '' : ratio(t / b), cpuNote(c)]);
    if (c.redis !== null) {
      const rt = c.redis.roundTripsPerCheck;
      rows.push([`${n} Redis round trips/check`, rt === null ? '?' : rt.toFixed(2), '', '',
        `${rt === null ? 'not counted' : met(rt <= 1)} (1); sent: ${perCheck(c.redis.clientByCommand, c.redis.checks)}`]);
      const w = c.redis.writesPerCheck;
      rows.push([`${n} Redis socket writes/check`, w === null ? '?' : w.toFixed(3), '', '', 'auto-pipelining: the commands of one event-loop turn share a write']);
      rows.push([`${n} Redis commands/check`, c.redis.serverPerCheck.toFixed(2), '', '',
        `INFO, incl. inside scripts: ${perCheck(c.redis.serverByCommand, c.redis.checks)}`]);
    }
    const batches = c.meanBatch.filter((b): b is number => b !== null);
    if (batches.length > 0) rows.push([`${n} group commit batch`, batches.map((b) => b.toFixed(1)).join(' / '), '', '', 'calls per transaction, per instance, last 1000']);
  }
  for (const c of r.configurations) {
    const o = c.overshoot;
    rows.push([`${c.configuration.name} quota overshoot`, int(o.over), '', '',
      `${int(o.admitted)} admitted for a quota of ${int(o.quota)} (${((o.over / o.quota) * 100).toFixed(2)}%), ${c.configuration.instances} instance(s) at once`]);
  }
  for (const c of r.configurations) {
    const d = c.durability;
    rows.push([`${c.configuration.name} durability`, `${int(d.units)} units`, `${int(d.admittedAnswers)} allowed`, '',
      d.equal ? `equal (ok), ${d.store}` : `DIFFERENT (${r.failures.some((f) => f.startsWith(`${c.configuration.name} durability`)) ? 'failure' : 'see warnings'})`]);
  }
  return rows;
}

/** The report as written to bench/results/latest.json. */
export function scaleOutJson(r: ScaleOutReport): Record<string, unknown> {
  const base = r.configurations[0];
  const scaleOut = r.configurations.find((c) => c.configuration.name === SCALE_OUT.name);
  return {
    options: r.options,
    ratio: scaleOut === undefined || base === undefined ? null : {
      reqPerSec: round(scaleOut.vsBaseline.reqPerSec, 3), p99: round(scaleOut.vsBaseline.p99, 3),
    },
    configurations: r.configurations.map((c) => ({
      name: c.configuration.name,
      description: c.configuration.description,
      instances: c.configuration.instances,
      connections: c.connections,
      reqPerSec: round(c.total.reqPerSec),
      p50Ms: c.total.latencyP50Ms,
      p99Ms: c.total.latencyP99Ms,
      answered: c.total.answered,
      overshoot: c.overshoot,
      vsBaseline: { reqPerSec: round(c.vsBaseline.reqPerSec, 3), p99: round(c.vsBaseline.p99, 3) },
      cpu: {
        wallMs: round(c.cpu.wallMs), machineBusyMs: c.cpu.machineBusyMs === null ? null : round(c.cpu.machineBusyMs), machineCores: c.cpu.machineCores,
        ms: Object.fromEntries(Object.entries(c.cpu.ms).map(([k, v]) => [k, v === null ? null : round(v)])),
        usPerCheck: Object.fromEntries(Object.entries(c.cpu.usPerCheck).map(([k, v]) => [k, v === null ? null : round(v, 1)])),
      },
      redis: c.redis === null ? null : {
        ...c.redis,
        serverPerCheck: round(c.redis.serverPerCheck, 3),
        roundTripsPerCheck: c.redis.roundTripsPerCheck === null ? null : round(c.redis.roundTripsPerCheck, 3),
        writesPerCheck: c.redis.writesPerCheck === null ? null : round(c.redis.writesPerCheck, 4),
        target: c.redis.roundTripsPerCheck === null ? null : met(c.redis.roundTripsPerCheck <= 1),
      },
      durability: c.durability,
      meanGroupCommitBatch: c.meanBatch,
      measured: c.measured,
      warmup: c.warmup,
    })),
  };
}
