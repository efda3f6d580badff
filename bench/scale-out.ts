import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { accountedRun, machineBusyNote, perCheck, type CountedServer, type CpuReport, type RedisReport } from './lib/accounting.js';
import { startServer, type ChildServer, type StopResult } from './lib/child.js';
import { startPostgres, startRedis, type DatabaseServer } from './lib/databases.js';
import { adminApi, createCatalogue, requestJson } from './lib/http.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { BENCH_ADMIN_TOKEN, serverScript } from './lib/paths.js';
import { int, log, ms, ratio } from './lib/stats.js';
import { comparison, PEER_PARTS, sideRound, startPeers, TOLLGATE_PARTS, type PeerComparison } from './scale-out-peer.js';

export interface ScaleOutOptions {
  /** Connections in all, split evenly over a configuration's instances. */
  connections: number;
  durationS: number;
  warmupS: number;
  keys: number;
  groups: number;
  /** Instances of each scale-out configuration, and of the peer it is compared with: each number runs strict and relaxed (default [2]). */
  instances: number[];
  /** Measured rounds of each configuration, alternating with its peer's on the scale-out store (default 3). */
  rounds: number;
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

export function strict(instances: number): Configuration {
  return { name: `strict-${instances}`, description: `${instances} instances on one PostgreSQL and one Redis`, instances, store: 'scale-out' };
}

export function relaxed(instances: number): Configuration {
  return {
    name: `relaxed-${instances}`, description: `${instances} instances, relaxed limits synced every 100 ms`, instances, store: 'scale-out',
    env: { TOLLGATE_LIMITS_MODE: 'relaxed', TOLLGATE_LIMITS_SYNC_MS: '100' },
  };
}

export const isRelaxed = (c: Configuration): boolean => c.env?.TOLLGATE_LIMITS_MODE === 'relaxed';

/** What `--only scale-out` runs, in this order; the first is the baseline of the ratios. */
export function scaleOutConfigurations(instances: readonly number[]): Configuration[] {
  return [EMBEDDED, ...instances.flatMap((n) => [strict(n), relaxed(n)])];
}

export interface ConfigurationReport {
  configuration: Configuration;
  connections: number[];
  warmup: LoadResult[];
  /** The median round's loads (by checks/s), one per instance; `total`, `cpu` and `redis` are that round's. */
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
  /** Against the same number of peer instances on the same Redis, in alternating rounds; null for the embedded store. */
  peer: PeerComparison | null;
  /**
   * One group's quota of `quota` units spent through all instances at once
   * (the same load, one key): how many checks were admitted, and by how
   * many the instances together went over. Zero in strict mode.
   */
  overshoot: { quota: number; admitted: number; over: number };
  /** Units the store holds after a SIGTERM stop, against the answers that said allowed=true (priming checks, warm-up, measured rounds and overshoot phase). */
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
/** How long the overshoot phase may take to spend it. */
const OVERSHOOT_MAX_MS = 60_000;
/** The plan is unlimited, so every answered check should say allowed=true; only those count. */
const admitted = (body: string): boolean => body.includes('"allowed":true');

/**
 * Embedded against scale-out under the same load, in one run: POST /v1/check
 * under autocannon on one SQLite instance, then on N instances sharing one
 * PostgreSQL and one Redis (the load split evenly, all parts at once), each
 * in alternating rounds with N peer instances on the same Redis
 * (bench/scale-out-peer.ts). Reports the checks/s and p99 of each, the
 * ratios, the Redis commands per check (as Redis counts them and as the
 * instances sent them), where the CPU went, and checks that the units
 * recorded equal the allowed answers.
 */
export async function runScaleOutBench(options: ScaleOutOptions, configurations: readonly Configuration[] = scaleOutConfigurations(options.instances)): Promise<ScaleOutReport> {
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

const total = (loads: readonly LoadResult[]): ConfigurationReport['total'] => ({
  reqPerSec: loads.reduce((n, r) => n + r.reqPerSec, 0),
  answered: loads.reduce((n, r) => n + r.answered, 0),
  latencyP50Ms: Math.max(...loads.map((r) => r.latencyP50Ms)),
  latencyP99Ms: Math.max(...loads.map((r) => r.latencyP99Ms)),
  non2xx: loads.reduce((n, r) => n + r.non2xx, 0),
  errors: loads.reduce((n, r) => n + r.errors, 0),
});

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
    const counted: CountedServer[] = [];
    const instances: ChildServer[] = [];
    for (let i = 0; i < configuration.instances; i += 1) {
      const env: NodeJS.ProcessEnv = {
        TOLLGATE_DATA_DIR: join(dir, `instance-${i + 1}`), TOLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn',
        // Required in scale-out mode; harmless for the embedded instance.
        TOLLGATE_WEBHOOK_SECRET: 'bench-webhook-secret-0123456789abcdef0123',
        ...configuration.env,
      };
      const countsFile = join(dir, `redis-commands-${i + 1}.json`);
      if (postgres !== null && redis !== null) {
        Object.assign(env, {
          TOLLGATE_DATABASE_URL: postgres.url, TOLLGATE_REDIS_URL: redis.url,
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${counter}"`.trim(), BENCH_REDIS_COUNTS_FILE: countsFile,
        });
      }
      const instance = await startServer(`${name}-${i + 1}`, serverScript('tollgate-server'), env);
      instances.push(instance);
      if (redis !== null) counted.push({ server: instance, file: countsFile });
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
    const rounds = options.rounds;
    log(`scale-out: ${name} (${configuration.description}): ${catalogue.keys.length} keys in ${catalogue.groups.length} groups; `
      + `${options.connections} connections (${connections.join(' + ')}), ${options.warmupS} s warm-up + ${rounds} × ${options.durationS} s`
      + (redis === null ? '' : `, alternating with ${instances.length} peer instances`) + '; figures of the median round');

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

    const load = (servers: readonly { url: string }[], durationS: number) => Promise.all(servers.map((server, i) => runLoad({
      url: server.url, connections: connections[i]!, requests, admitted, durationS,
    })));
    const answered = (loads: readonly LoadResult[]) => loads.reduce((n, r) => n + r.answered, 0);
    const warmup = await load(instances, options.warmupS);
    const tollgateParts = { tollgate: instances.map((s) => s.pid), postgres: postgres === null ? [] : [postgres.pid], redis: redis === null ? [] : [redis.pid] };
    const tollgateRun = () => accountedRun(tollgateParts, redisClient, counted, () => load(instances, options.durationS), answered);

    // The peer, on the same Redis, warmed up like Tollgate (its counters created), then the rounds, alternating which side goes first.
    const peers = redis === null ? [] : await startPeers(instances.length, redis.url, dir);
    for (const peer of peers) cleanups.push(() => peer.server.stop(10_000));
    const peerParts = { peer: peers.map((p) => p.server.pid), redis: redis === null ? [] : [redis.pid] };
    const peerServers = peers.map((p) => p.server);
    const peerRun = () => accountedRun(peerParts, redisClient, peers, () => load(peerServers, options.durationS), answered);
    const peerWarmup = peers.length === 0 ? [] : await load(peerServers, options.warmupS);
    const tollgateRounds: Array<Awaited<ReturnType<typeof tollgateRun>>> = [];
    const peerRounds: typeof tollgateRounds = [];
    for (let r = 0; r < rounds; r += 1) {
      const tollgateFirst = r % 2 === 0;
      if (tollgateFirst) tollgateRounds.push(await tollgateRun());
      if (peers.length > 0) peerRounds.push(await peerRun());
      if (!tollgateFirst) tollgateRounds.push(await tollgateRun());
    }
    for (const peer of peers) {
      const stop = await peer.server.stop();
      if (stop.code !== 0 || stop.killed) failures.push(`${peer.server.label} of ${name} did not stop cleanly on SIGTERM (code ${stop.code}, signal ${stop.signal})`);
    }

    // The median round by checks/s gives the configuration's own figures (Redis counts, CPU by part): the first round
    // after a short warm-up is often still the slowest. Every round feeds the comparison with the peer.
    const byRate = [...tollgateRounds].sort((a, b) => total(a.result).reqPerSec - total(b.result).reqPerSec);
    const { result: measured, cpu, redis: redisReport } = byRate[(byRate.length - 1) >> 1]!;
    const measuredTotal = total(measured);
    log(`scale-out: ${name.padEnd(10)} ${int(measuredTotal.reqPerSec)} checks/s, p99 ${ms(measuredTotal.latencyP99Ms)}`
      + (instances.length > 1 ? ` (${measured.map((r) => `${int(r.reqPerSec)}/s p99 ${ms(r.latencyP99Ms)}`).join(', ')})` : '')
      + `; CPU per check: ${Object.entries(cpu.usPerCheck).filter(([, v]) => v !== null).map(([k, v]) => `${k} ${v!.toFixed(0)} µs`).join(', ')}; ${machineBusyNote(cpu)}`);
    if (redisReport !== null) {
      log(`scale-out: ${name.padEnd(10)} Redis per check: ${redisReport.roundTripsPerCheck === null ? '?' : redisReport.roundTripsPerCheck.toFixed(2)} round trips `
        + `(${perCheck(redisReport.clientByCommand, redisReport.checks)}) in ${redisReport.writesPerCheck === null ? '?' : redisReport.writesPerCheck.toFixed(3)} socket writes; `
        + `${redisReport.serverPerCheck.toFixed(2)} commands as Redis counts them (${perCheck(redisReport.serverByCommand, redisReport.checks)})`);
    }
    const peer = peers.length === 0 ? null : comparison(instances.length, isRelaxed(configuration), tollgateRounds.map((t, i) => ({
      tollgate: sideRound(t.result, t.cpu, t.redis, TOLLGATE_PARTS),
      peer: sideRound(peerRounds[i]!.result, peerRounds[i]!.cpu, peerRounds[i]!.redis, PEER_PARTS),
    })));
    if (peer !== null) {
      log(`scale-out: ${name.padEnd(10)} vs ${peer.instances} peer instances, checks/s: ${peer.rounds.map((r) => `${int(r.tollgate.reqPerSec)}/${int(r.peer.reqPerSec)} = ${ratio(r.reqPerSecRatio)}`).join(', ')}; `
        + `median ${ratio(peer.medianRatio)} (${peer.target.status}, >= ${ratio(peer.target.min)}); CPU per check ${peer.rounds.map((r) => `${r.tollgate.cpuUs?.toFixed(0) ?? '?'}/${r.peer.cpuUs?.toFixed(0) ?? '?'} µs`).join(', ')}`);
    }
    const labelled = (server: ChildServer, phases: ReadonlyArray<readonly [string, LoadResult]>) => {
      for (const [phase, r] of phases) {
        if (r.non2xx > 0 || r.errors > 0 || r.notAdmitted > 0) {
          warnings.push(`${server.label} ${phase}: ${r.non2xx} non-2xx, ${r.errors} errors (${r.timeouts} timeouts), ${r.notAdmitted} answers without allowed=true`);
        }
      }
    };
    instances.forEach((instance, i) => labelled(instance, [['warm-up', warmup[i]!], ...tollgateRounds.map((t, r) => [`round ${r + 1}`, t.result[i]!] as const)]));
    peerServers.forEach((server, i) => labelled(server, [['warm-up', peerWarmup[i]!], ...peerRounds.map((p, r) => [`round ${r + 1}`, p.result[i]!] as const)]));

    const overshoot = await spendQuota(admin, instances, connections, options.durationS);
    log(`scale-out: ${name.padEnd(10)} quota of ${int(overshoot.quota)} spent through ${instances.length} instance(s): ${int(overshoot.admitted)} admitted, `
      + `${int(overshoot.over)} over (${((overshoot.over / overshoot.quota) * 100).toFixed(2)}%)`);
    if (overshoot.admitted < overshoot.quota) failures.push(`${name} overshoot phase: the quota of ${overshoot.quota} was not spent (${overshoot.admitted} admitted)`);
    if (!isRelaxed(configuration) && overshoot.over !== 0) failures.push(`${name}: strict limits admitted ${overshoot.over} checks over the quota`);

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
    const phases = [...warmup, ...tollgateRounds.flatMap((t) => t.result), ...overshoot.runs];
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
      total: measuredTotal,
      vsBaseline: { reqPerSec: 1, p99: 1 },
      cpu,
      redis: redisReport,
      peer,
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
 * and the same connections as the measured run all checking with it in runs
 * of `durationS` seconds until the quota is spent (on a busy machine one run
 * may not get there; OVERSHOOT_MAX_MS bounds them): every check past the
 * quota should be refused.
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
  const runs: LoadResult[] = [];
  let admittedChecks = 0;
  const deadline = performance.now() + OVERSHOOT_MAX_MS;
  do {
    const run = await Promise.all(instances.map((instance, i) => runLoad({ url: instance.url, connections: connections[i]!, requests, admitted, durationS })));
    runs.push(...run);
    admittedChecks += run.reduce((n, r) => n + r.admitted, 0);
  } while (admittedChecks < OVERSHOOT_QUOTA && performance.now() < deadline);
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

