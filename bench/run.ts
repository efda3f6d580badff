/**
 * Tollgate's benchmarks: `npm run bench` (or `node dist/bench/run.js` after a build).
 *
 *   --only NAMES          run some of them: check,limits,query,ingest,gateway,scale-out,dashboard (default: all)
 *   --duration S          check: seconds measured per server (default 10)
 *   --warmup S            check: warm-up seconds per server (default 2)
 *   --connections N       check: concurrent connections (default 64)
 *   --keys N --groups N   check: customer keys, spread over groups (default 100 over 10)
 *   --check-auth service|admin   check: bearer token of the check calls (default service)
 *   --events N            query: events in the data set (default 10,000,000; 200k, 10M accepted)
 *   --fresh               query: regenerate the cached data set under bench/.data/
 *   --keep-rollups        query: reuse rollups a previous run built (no rollup build figure)
 *   --http-requests N     query: timed usage queries (default 50)
 *   --sql-runs N          query: timed raw GROUP BY runs (default 5)
 *   --ingest-batches N    ingest: batches of 1,000 events per side (default 300)
 *   --ingest-concurrency N  ingest: requests in flight (default 4)
 *   --rounds N            gateway: measured runs per server, alternating (default 1)
 *   --dashboard-groups N  dashboard: groups in the catalogue it lists (default 3000)
 *   --limits-rounds N     limits: measured runs per plan, alternating (default 3; duration, warm-up, connections, keys, groups as check)
 *   --limits-stores LIST  limits: embedded,scale-out (default both; scale-out needs PostgreSQL and redis-server)
 *   --scale-out-instances LIST  scale-out: instances of Tollgate and of the Redis-limiter peer, e.g. 2,4 runs both (default 2)
 *   --scale-out-rounds N  scale-out: measured rounds of each configuration, alternating with the peer's (default 3)
 *   (gateway and scale-out use the check settings for duration, warm-up, connections, keys and groups;
 *    scale-out splits the connections evenly over its instances, and needs PostgreSQL and redis-server)
 *
 * BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" passes Node flags to the
 * server processes (e.g. to profile them).
 *
 * Prints a summary table and writes it as JSON to bench/results/latest.json.
 * Exits non-zero when a correctness check fails; a missed performance target
 * is reported, not fatal. Everything stays on 127.0.0.1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCheckBench, type CheckOptions, type CheckReport } from './check.js';
import { gatewaySummaryRows, runGatewayBench, type GatewayBenchReport } from './gateway.js';
import { runIngestBench, type IngestOptions, type IngestReport } from './ingest.js';
import { count, instancesList } from './lib/options.js';
import { RESULTS_DIR } from './lib/paths.js';
import { int, log, met, ms, ratio, round, table } from './lib/stats.js';
import { limitsSummaryRows, runLimitsBench, type LimitsOptions, type LimitsReport, type LimitsStore } from './limits.js';
import { runQueryBench, type QueryOptions, type QueryReport } from './query.js';
import { runScaleOutBench, type ScaleOutOptions, type ScaleOutReport } from './scale-out.js';
import { scaleOutJson, scaleOutSummaryRows } from './scale-out-report.js';
import { dashboardSummaryRows, runDashboardBench, type DashboardReport } from './dashboard.js';

function parse() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      keys: { type: 'string' },
      groups: { type: 'string' },
      'check-auth': { type: 'string' },
      events: { type: 'string' },
      fresh: { type: 'boolean', default: false },
      'keep-rollups': { type: 'boolean', default: false },
      'http-requests': { type: 'string' },
      'sql-runs': { type: 'string' },
      'ingest-batches': { type: 'string' },
      'ingest-concurrency': { type: 'string' },
      rounds: { type: 'string' },
      'dashboard-groups': { type: 'string' },
      'limits-rounds': { type: 'string' },
      'limits-stores': { type: 'string' },
      'scale-out-instances': { type: 'string' },
      'scale-out-rounds': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const selected = new Set<Bench>(values.only === undefined ? BENCHES : values.only.split(',').map((name) => {
    if (!(BENCHES as readonly string[]).includes(name)) throw new Error(`--only takes names from ${BENCHES.join(', ')}, got "${name}"`);
    return name as Bench;
  }));
  const auth = values['check-auth'] ?? 'service';
  if (auth !== 'service' && auth !== 'admin') throw new Error(`--check-auth must be "service" or "admin", got "${auth}"`);
  const check: CheckOptions = {
    durationS: count('duration', values.duration, 10),
    warmupS: count('warmup', values.warmup, 2),
    connections: count('connections', values.connections, 64),
    keys: count('keys', values.keys, 100),
    groups: count('groups', values.groups, 10),
    auth,
  };
  const query: QueryOptions = {
    events: count('events', values.events, 10_000_000, 1000),
    fresh: values.fresh === true,
    keepRollups: values['keep-rollups'] === true,
    httpRequests: count('http-requests', values['http-requests'], 50),
    sqlRuns: count('sql-runs', values['sql-runs'], 5),
  };
  const ingest: IngestOptions = {
    batches: count('ingest-batches', values['ingest-batches'], 300),
    batchSize: 1000,
    concurrency: count('ingest-concurrency', values['ingest-concurrency'], 4),
  };
  const rounds = count('rounds', values.rounds, 1);
  const dashboardGroups = count('dashboard-groups', values['dashboard-groups'], 3_000);
  const limitsStores = (values['limits-stores'] ?? 'embedded,scale-out').split(',').map((name) => {
    if (name !== 'embedded' && name !== 'scale-out') throw new Error(`--limits-stores takes embedded and scale-out, got "${name}"`);
    return name as LimitsStore;
  });
  const limits = limitsStores.map((store): LimitsOptions => ({ ...check, rounds: count('limits-rounds', values['limits-rounds'], 3), store }));
  const scaleOut: ScaleOutOptions = {
    durationS: check.durationS, warmupS: check.warmupS, connections: check.connections, keys: check.keys, groups: check.groups,
    instances: instancesList(values['scale-out-instances']),
    rounds: count('scale-out-rounds', values['scale-out-rounds'], 3),
  };
  return { selected, check, query, ingest, rounds, dashboardGroups, limits, scaleOut, help: values.help === true };
}

const BENCHES = ['check', 'limits', 'query', 'ingest', 'gateway', 'scale-out', 'dashboard'] as const;
type Bench = (typeof BENCHES)[number];

/** The command that reproduces this run, every setting spelled out. */
function reproduce(selected: ReadonlySet<Bench>, check: CheckOptions, query: QueryOptions, ingest: IngestOptions, rounds: number, dashboardGroups: number, limits: readonly LimitsOptions[],
  scaleOut: ScaleOutOptions): string {
  const args: string[] = [];
  if (selected.size < BENCHES.length) args.push('--only', [...selected].join(','));
  if (selected.has('check') || selected.has('limits') || selected.has('gateway') || selected.has('scale-out')) {
    args.push('--duration', String(check.durationS), '--warmup', String(check.warmupS), '--connections', String(check.connections),
      '--keys', String(check.keys), '--groups', String(check.groups), '--check-auth', check.auth);
  }
  if (selected.has('ingest')) args.push('--ingest-batches', String(ingest.batches), '--ingest-concurrency', String(ingest.concurrency));
  if (selected.has('gateway')) args.push('--rounds', String(rounds));
  if (selected.has('limits')) args.push('--limits-rounds', String(limits[0]?.rounds ?? 3), '--limits-stores', limits.map((l) => l.store).join(','));
  if (selected.has('scale-out')) args.push('--scale-out-instances', scaleOut.instances.join(','), '--scale-out-rounds', String(scaleOut.rounds));
  if (selected.has('dashboard')) args.push('--dashboard-groups', String(dashboardGroups));
  if (selected.has('query')) {
    args.push('--events', String(query.events), '--http-requests', String(query.httpRequests), '--sql-runs', String(query.sqlRuns));
    if (query.keepRollups) args.push('--keep-rollups');
  }
  return `npx tsc -p tsconfig.json && node dist/bench/run.js ${args.join(' ')}`;
}


function summaryRows(checkReport: CheckReport | null, limitsReports: readonly LimitsReport[], queryReport: QueryReport | null, ingestReport: IngestReport | null, gatewayReport: GatewayBenchReport | null,
  scaleOutReport: ScaleOutReport | null, dashboardReport: DashboardReport | null): string[][] {
  const rows: string[][] = [['', 'Tollgate', 'peer / baseline', 'ours/peer', 'note']];
  if (checkReport !== null) {
    const t = checkReport.tollgate.measured;
    const p = checkReport.peer.measured;
    rows.push(['check req/s (avg)', int(t.reqPerSec), int(p.reqPerSec), ratio(checkReport.ratios.reqPerSec), `peer: Fastify + @fastify/rate-limit; ${met(checkReport.ratios.reqPerSec >= 1)} (>= peer)`]);
    rows.push(['check latency p99', ms(t.latencyP99Ms), ms(p.latencyP99Ms), ratio(checkReport.ratios.p99), `p50 ${ms(t.latencyP50Ms)} vs ${ms(p.latencyP50Ms)}`]);
    rows.push(['check durability', `${int(checkReport.durability.eventRows)} rows`, `${int(checkReport.durability.admittedAnswers)} admitted`, '',
      checkReport.durability.equal ? 'equal (ok)' : 'DIFFERENT (failure)']);
    const cpu = checkReport.cpuUsPerCall;
    if (cpu.tollgate !== null && cpu.peer !== null) {
      rows.push(['server CPU per call', `${cpu.tollgate.toFixed(1)} µs`, `${cpu.peer.toFixed(1)} µs`, ratio(checkReport.ratios.cpuPerCall!), 'all threads, measured run only']);
    }
    if (checkReport.tollgate.meanBatch !== null) rows.push(['group commit batch (mean)', checkReport.tollgate.meanBatch.toFixed(1), '', '', 'calls per fsync, last 1000 batches']);
  }
  for (const report of limitsReports) rows.push(...limitsSummaryRows(report));
  if (queryReport !== null) {
    rows.push(['rollup build', ms(queryReport.rollupBuild.ms ?? Number.NaN), '', '', `${int(queryReport.rollupBuild.events)} events at store open`]);
    rows.push(['usage query median', ms(queryReport.http.medianMs), ms(queryReport.sql.medianMs), ratio(queryReport.http.medianMs / queryReport.sql.medianMs),
      `baseline: raw GROUP BY; ${met(queryReport.targets.under10ms)} (< 10 ms)`]);
    rows.push(['GET /healthz median', ms(queryReport.floor.medianMs), '', '', 'HTTP floor on this machine, same run']);
    rows.push(['usage query p95', ms(queryReport.http.p95Ms), ms(queryReport.sql.p95Ms), '', `${queryReport.http.samplesMs.length} http / ${queryReport.sql.samplesMs.length} sql runs`]);
    rows.push(['usage query speed-up', ratio(queryReport.speedup), '', '', `${met(queryReport.targets.atLeast100x)} (>= 100x)`]);
    rows.push(['usage totals', int(queryReport.totals.api), int(queryReport.totals.sql), '',
      queryReport.failures.some((f) => f.startsWith('usage query') || f.startsWith('raw')) ? 'DIFFERENT (failure)' : `equal over ${queryReport.totals.cells} cells (ok)`]);
  }
  if (ingestReport !== null) {
    const t = ingestReport.tollgate;
    const p = ingestReport.peer;
    rows.push(['ingest events/s', int(t.eventsPerSec), int(p.eventsPerSec), ratio(ingestReport.ratio),
      `peer: Fastify + one SQLite table; ${met(t.eventsPerSec >= 200_000)} (>= 200,000/s)`]);
    if (t.cpuUsPerEvent !== null && p.cpuUsPerEvent !== null) {
      rows.push(['ingest CPU per event', `${t.cpuUsPerEvent.toFixed(1)} µs`, `${p.cpuUsPerEvent.toFixed(1)} µs`, ratio(t.cpuUsPerEvent / p.cpuUsPerEvent), 'all threads']);
    }
    rows.push(['ingest durability', `${int(t.eventRows)} rows`, `${int(t.accepted)} accepted`, '',
      ingestReport.failures.length === 0 ? `equal; resent batches all duplicates (ok)` : 'DIFFERENT (failure)']);
  }
  if (gatewayReport !== null) rows.push(...gatewaySummaryRows(gatewayReport));
  if (scaleOutReport !== null) rows.push(...scaleOutSummaryRows(scaleOutReport));
  if (dashboardReport !== null) rows.push(...dashboardSummaryRows(dashboardReport));
  return rows;
}

async function main(): Promise<number> {
  const { selected, check, query, ingest, rounds, dashboardGroups, limits, scaleOut, help } = parse();
  if (help) {
    process.stdout.write('Usage: node dist/bench/run.js [--only check,limits,query,ingest,gateway,scale-out,dashboard] [--duration S] [--warmup S] [--connections N] [--keys N] [--groups N]\n'
      + '         [--check-auth service|admin] [--events N] [--fresh] [--keep-rollups] [--http-requests N] [--sql-runs N]\n'
      + '         [--ingest-batches N] [--ingest-concurrency N] [--rounds N] [--dashboard-groups N] [--limits-rounds N] [--limits-stores embedded,scale-out]\n'
      + '         [--scale-out-instances 2,4] [--scale-out-rounds N]\n');
    return 0;
  }
  const command = reproduce(selected, check, query, ingest, rounds, dashboardGroups, limits, scaleOut);
  log(`node ${process.version}, ${cpus().length} cpus; ${command}`);

  const failures: string[] = [];
  const warnings: string[] = [];
  let checkReport: CheckReport | null = null;
  const limitsReports: LimitsReport[] = [];
  let queryReport: QueryReport | null = null;
  let ingestReport: IngestReport | null = null;
  let gatewayReport: GatewayBenchReport | null = null;
  let scaleOutReport: ScaleOutReport | null = null;
  let dashboardReport: DashboardReport | null = null;
  if (selected.has('check')) {
    try {
      checkReport = await runCheckBench(check);
      failures.push(...checkReport.failures);
      warnings.push(...checkReport.warnings);
    } catch (error) {
      failures.push(`check benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  if (selected.has('limits')) {
    for (const options of limits) {
      try {
        const report = await runLimitsBench(options);
        limitsReports.push(report);
        failures.push(...report.failures);
        warnings.push(...report.warnings);
      } catch (error) {
        failures.push(`limits benchmark (${options.store}) failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      }
    }
  }
  if (selected.has('ingest')) {
    try {
      ingestReport = await runIngestBench(ingest);
      failures.push(...ingestReport.failures);
    } catch (error) {
      failures.push(`ingest benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  if (selected.has('gateway')) {
    try {
      gatewayReport = await runGatewayBench({ durationS: check.durationS, warmupS: check.warmupS, connections: check.connections, keys: check.keys, groups: check.groups, rounds });
      failures.push(...gatewayReport.failures);
      warnings.push(...gatewayReport.warnings);
    } catch (error) {
      failures.push(`gateway benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  if (selected.has('scale-out')) {
    try {
      scaleOutReport = await runScaleOutBench(scaleOut);
      failures.push(...scaleOutReport.failures);
      warnings.push(...scaleOutReport.warnings);
    } catch (error) {
      failures.push(`scale-out benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  if (selected.has('dashboard')) {
    try {
      dashboardReport = await runDashboardBench({ groups: dashboardGroups, samples: 100 });
      failures.push(...dashboardReport.failures);
    } catch (error) {
      failures.push(`dashboard benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  if (selected.has('query')) {
    try {
      queryReport = await runQueryBench(query);
      failures.push(...queryReport.failures);
    } catch (error) {
      failures.push(`query benchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }

  process.stdout.write(`\n${table(summaryRows(checkReport, limitsReports, queryReport, ingestReport, gatewayReport, scaleOutReport, dashboardReport))}\n\n`);
  process.stdout.write(`reproduce: ${command}\n`);
  for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
  for (const f of failures) process.stdout.write(`FAILED: ${f}\n`);
  process.stdout.write(failures.length === 0 ? 'correctness checks: all passed\n' : `correctness checks: ${failures.length} FAILED\n`);

  const summary = {
    finishedAt: new Date().toISOString(),
    command,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null },
    check: checkReport === null ? null : {
      options: checkReport.options,
      tollgate: {
        reqPerSec: round(checkReport.tollgate.measured.reqPerSec), p50Ms: checkReport.tollgate.measured.latencyP50Ms,
        p99Ms: checkReport.tollgate.measured.latencyP99Ms, meanGroupCommitBatch: checkReport.tollgate.meanBatch,
        measured: checkReport.tollgate.measured, warmup: checkReport.tollgate.warmup,
      },
      peer: {
        reqPerSec: round(checkReport.peer.measured.reqPerSec), p50Ms: checkReport.peer.measured.latencyP50Ms,
        p99Ms: checkReport.peer.measured.latencyP99Ms, measured: checkReport.peer.measured, warmup: checkReport.peer.warmup,
      },
      ratios: { reqPerSec: round(checkReport.ratios.reqPerSec, 3), p99: round(checkReport.ratios.p99, 3) },
      durability: checkReport.durability,
    },
    limits: limitsReports,
    query: queryReport === null ? null : {
      options: queryReport.options,
      generated: queryReport.generated,
      generationMs: queryReport.generationMs === null ? null : round(queryReport.generationMs),
      rollupBuild: { events: queryReport.rollupBuild.events, ms: queryReport.rollupBuild.ms === null ? null : round(queryReport.rollupBuild.ms), rssMb: queryReport.rollupBuild.rssMb },
      usageQuery: { medianMs: round(queryReport.http.medianMs, 3), p95Ms: round(queryReport.http.p95Ms, 3), minMs: round(queryReport.http.minMs, 3), records: queryReport.http.records },
      healthzMedianMs: round(queryReport.floor.medianMs, 3),
      rawGroupBy: { medianMs: round(queryReport.sql.medianMs, 1), p95Ms: round(queryReport.sql.p95Ms, 1), minMs: round(queryReport.sql.minMs, 1), rows: queryReport.sql.rows },
      speedup: round(queryReport.speedup, 1),
      targets: {
        medianUnder10ms: met(queryReport.targets.under10ms),
        atLeast100xFaster: met(queryReport.targets.atLeast100x),
      },
      totals: queryReport.totals,
      samples: { httpMs: queryReport.http.samplesMs.map((v) => round(v, 3)), sqlMs: queryReport.sql.samplesMs.map((v) => round(v, 1)) },
    },
    ingest: ingestReport === null ? null : {
      options: ingestReport.options, tollgate: ingestReport.tollgate, peer: ingestReport.peer, ratio: round(ingestReport.ratio, 3),
      target: met(ingestReport.tollgate.eventsPerSec >= 200_000),
    },
    gateway: gatewayReport === null ? null : {
      options: gatewayReport.options, ratios: gatewayReport.ratios, p99DeltaMs: gatewayReport.p99DeltaMs, targets: gatewayReport.targets,
      tollgate: { reqPerSec: round(gatewayReport.tollgate.reqPerSec), p99Ms: gatewayReport.tollgate.latencyP99Ms, cpuUsPerCall: gatewayReport.tollgate.cpuUsPerCall },
      peer: { reqPerSec: round(gatewayReport.peer.reqPerSec), p99Ms: gatewayReport.peer.latencyP99Ms, cpuUsPerCall: gatewayReport.peer.cpuUsPerCall },
    },
    scaleOut: scaleOutReport === null ? null : scaleOutJson(scaleOutReport),
    dashboard: dashboardReport,
    correctness: { ok: failures.length === 0, failures, warnings },
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'latest.json');
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
