import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type autocannon from 'autocannon';
import { processCpuMs, startServer, type ChildServer, type StopResult } from './lib/child.js';
import { adminApi, createCatalogue } from './lib/http.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { BENCH_ADMIN_TOKEN, serverScript } from './lib/paths.js';
import { int, log, median, met, ms, ratio } from './lib/stats.js';

export interface GatewayBenchOptions {
  connections: number;
  durationS: number;
  warmupS: number;
  keys: number;
  groups: number;
  /** Measured runs per server, alternating ours and the peer's (ABBA...) so that drift on a shared machine hits both alike. */
  rounds: number;
}

/** One server's measured runs, and their summary. */
export interface GatewaySide {
  runs: Array<{ warmup: LoadResult; measured: LoadResult; cpuUsPerCall: number | null }>;
  /** Mean req/s and median latencies over the rounds. */
  reqPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Server CPU time (all threads) per answered call, in microseconds, over the measured runs. */
  cpuUsPerCall: number | null;
  server: StopResult;
}

export interface GatewayBenchReport {
  options: GatewayBenchOptions;
  tollgate: GatewaySide & { meanBatch: number | null };
  peer: GatewaySide;
  ratios: { reqPerSec: number; p99: number; cpuPerCall: number | null };
  /** Our p99 minus the peer's, in milliseconds. */
  p99DeltaMs: number;
  targets: { throughput: boolean; p99: boolean };
  /** After a SIGTERM stop: one event row, of 1 unit, per 2xx answer of the gateway. */
  counting: { eventRows: number; units: number; answered2xx: number; equal: boolean; exact: boolean };
  upstreamCalls: number | null;
  failures: string[];
  warnings: string[];
}

/** The throughput and latency targets of the gateway against the plain proxy. */
export const GATEWAY_TARGETS = { minThroughputRatio: 0.9, maxExtraP99Ms: 1 } as const;

const BODY = JSON.stringify({ src: 'https://example.com/page-1.png', formats: ['text'], ocr: ['math', 'text'] });
const served = (body: string): boolean => body.includes('"ok":true');

/**
 * The metered gateway against a plain proxy (Fastify + @fastify/reply-from)
 * over the same upstream, in the same run, under the same autocannon load:
 * POST /v1/text with a small JSON body, the customer key (rotated over
 * `keys` keys) in x-api-key. Each server and the upstream run in their own
 * process. Then the counting check: after a SIGTERM stop, the gateway's
 * events table holds exactly one unit per 2xx answer.
 */
export async function runGatewayBench(options: GatewayBenchOptions): Promise<GatewayBenchReport> {
  const failures: string[] = [];
  const warnings: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-gateway-'));
  const servers: ChildServer[] = [];
  const stop = async (server: ChildServer) => {
    servers.splice(servers.indexOf(server), 1);
    return server.stop();
  };
  try {
    const upstream = await startServer('upstream', serverScript('upstream-server'), {});
    servers.push(upstream);
    const tollgate = await startServer('gateway', serverScript('gateway-server'), {
      TOLLGATE_DATA_DIR: dataDir, TOLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn', BENCH_UPSTREAM_URL: upstream.url,
    });
    servers.push(tollgate);
    const peer = await startServer('proxy', serverScript('proxy-peer-server'), { BENCH_UPSTREAM_URL: upstream.url });
    servers.push(peer);

    const admin = adminApi(tollgate.url, BENCH_ADMIN_TOKEN);
    const appsPerGroup = Math.max(1, Math.round(options.keys / options.groups));
    const catalogue = await createCatalogue(admin, { prefix: 'gw', groups: options.groups, appsPerGroup });
    log(`gateway: ${catalogue.keys.length} keys in ${catalogue.groups.length} groups (unlimited plan); ${options.connections} connections, `
      + `${options.warmupS} s warm-up + ${options.durationS} s each, ${options.rounds} round${options.rounds === 1 ? '' : 's'}`);

    // The same requests go to both: the peer forwards the key too, and ignores it.
    const requests: autocannon.Request[] = catalogue.keys.map((k) => ({
      method: 'POST',
      path: '/v1/text',
      headers: { 'content-type': 'application/json', 'x-api-key': k.key },
      body: BODY,
    }));

    const measure = async (server: ChildServer) => {
      const load = { url: server.url, connections: options.connections, requests, admitted: served };
      const warmup = await runLoad({ ...load, durationS: options.warmupS });
      const cpuBefore = processCpuMs(server.pid);
      const measured = await runLoad({ ...load, durationS: options.durationS });
      const cpuAfter = processCpuMs(server.pid);
      const cpuUsPerCall = cpuBefore === null || cpuAfter === null || measured.answered === 0 ? null : ((cpuAfter - cpuBefore) * 1000) / measured.answered;
      log(`gateway: ${server.label.padEnd(8)} ${int(measured.reqPerSec)} req/s, p50 ${ms(measured.latencyP50Ms)}, p99 ${ms(measured.latencyP99Ms)}`
        + `${cpuUsPerCall === null ? '' : `, ${cpuUsPerCall.toFixed(1)} µs CPU per call`}`);
      for (const [phase, r] of [['warm-up', warmup], ['measured', measured]] as const) {
        if (r.non2xx > 0 || r.errors > 0 || r.notAdmitted > 0) {
          warnings.push(`${server.label} ${phase}: ${r.non2xx} non-2xx, ${r.errors} errors (${r.timeouts} timeouts), ${r.notAdmitted} answers that are not the upstream's`);
        }
      }
      return { warmup, measured, cpuUsPerCall };
    };

    const ours: GatewaySide['runs'] = [];
    const theirs: GatewaySide['runs'] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      if (round % 2 === 0) {
        ours.push(await measure(tollgate));
        theirs.push(await measure(peer));
      } else {
        theirs.push(await measure(peer));
        ours.push(await measure(tollgate));
      }
    }

    const tollgateStop = await stop(tollgate);
    if (tollgateStop.code !== 0 || tollgateStop.killed) {
      failures.push(`the gateway did not stop cleanly on SIGTERM (code ${tollgateStop.code}, signal ${tollgateStop.signal}${tollgateStop.killed ? ', killed' : ''})`);
    }
    const peerStop = await stop(peer);
    const upstreamStop = await stop(upstream);

    // Counting: every 2xx answer of the gateway is one unit in the events table, and nothing else is.
    const db = new Database(join(dataDir, 'tollgate.db'), { readonly: true, fileMustExist: true });
    const row = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(count), 0) AS units FROM events').get() as { n: number; units: number };
    db.close();
    const answered2xx = ours.reduce((sum, r) => sum + r.warmup.status2xx + r.measured.status2xx, 0);
    const inFlight = ours.reduce((sum, r) => sum + r.warmup.inFlightAtEnd + r.measured.inFlightAtEnd, 0);
    const exact = inFlight === 0;
    const equal = row.n === answered2xx && row.units === answered2xx;
    log(`gateway: counting: ${int(row.n)} event rows (${int(row.units)} units), ${int(answered2xx)} 2xx answers: ${equal ? 'equal' : 'DIFFERENT'}`);
    if (!equal) {
      if (exact || row.units < answered2xx) failures.push(`counting: the events table holds ${row.units} units but the gateway answered ${answered2xx} calls with 2xx`);
      else warnings.push(`counting: ${row.units - answered2xx} units for requests left unanswered by the load generator (${inFlight} in flight at the end)`);
    }

    const side = (runs: GatewaySide['runs'], server: StopResult): GatewaySide => {
      const cpu = runs.map((r) => r.cpuUsPerCall);
      return {
        runs,
        reqPerSec: runs.reduce((sum, r) => sum + r.measured.reqPerSec, 0) / runs.length,
        latencyP50Ms: median(runs.map((r) => r.measured.latencyP50Ms)),
        latencyP99Ms: median(runs.map((r) => r.measured.latencyP99Ms)),
        cpuUsPerCall: cpu.some((c) => c === null) ? null : median(cpu as number[]),
        server,
      };
    };
    const t = { ...side(ours, tollgateStop), meanBatch: (tollgateStop.stats as { meanBatch?: number | null } | null)?.meanBatch ?? null };
    const p = side(theirs, peerStop);
    const ratios = {
      reqPerSec: t.reqPerSec / p.reqPerSec,
      p99: t.latencyP99Ms / p.latencyP99Ms,
      cpuPerCall: t.cpuUsPerCall !== null && p.cpuUsPerCall !== null ? t.cpuUsPerCall / p.cpuUsPerCall : null,
    };
    const p99DeltaMs = t.latencyP99Ms - p.latencyP99Ms;
    return {
      options,
      tollgate: t,
      peer: p,
      ratios,
      p99DeltaMs,
      targets: { throughput: ratios.reqPerSec >= GATEWAY_TARGETS.minThroughputRatio, p99: p99DeltaMs <= GATEWAY_TARGETS.maxExtraP99Ms },
      counting: { eventRows: row.n, units: row.units, answered2xx, equal, exact },
      upstreamCalls: (upstreamStop.stats as { calls?: number } | null)?.calls ?? null,
      failures,
      warnings,
    };
  } finally {
    for (const server of [...servers]) await server.stop(10_000).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}


/** Summary rows in the layout of bench/run.ts's table: label, Tollgate, peer, ratio, note. */
export function gatewaySummaryRows(r: GatewayBenchReport): string[][] {
  const rows: string[][] = [];
  rows.push(['gateway req/s (avg)', int(r.tollgate.reqPerSec), int(r.peer.reqPerSec), ratio(r.ratios.reqPerSec),
    `peer: Fastify + @fastify/reply-from; ${met(r.targets.throughput)} (>= ${GATEWAY_TARGETS.minThroughputRatio}x)`]);
  rows.push(['gateway latency p99', ms(r.tollgate.latencyP99Ms), ms(r.peer.latencyP99Ms), ratio(r.ratios.p99),
    `${r.p99DeltaMs >= 0 ? '+' : ''}${r.p99DeltaMs.toFixed(2)} ms; ${met(r.targets.p99)} (<= +${GATEWAY_TARGETS.maxExtraP99Ms} ms)`]);
  rows.push(['gateway latency p50', ms(r.tollgate.latencyP50Ms), ms(r.peer.latencyP50Ms), ratio(r.tollgate.latencyP50Ms / r.peer.latencyP50Ms), '']);
  if (r.tollgate.cpuUsPerCall !== null && r.peer.cpuUsPerCall !== null) {
    rows.push(['gateway server CPU per call', `${r.tollgate.cpuUsPerCall.toFixed(1)} µs`, `${r.peer.cpuUsPerCall.toFixed(1)} µs`, ratio(r.ratios.cpuPerCall!), 'all threads, measured runs only']);
  }
  rows.push(['gateway counting', `${int(r.counting.units)} units`, `${int(r.counting.answered2xx)} 2xx`, '', r.counting.equal ? 'equal (ok)' : 'DIFFERENT (failure)']);
  if (r.tollgate.meanBatch !== null) rows.push(['gateway group commit batch', r.tollgate.meanBatch.toFixed(1), '', '', 'calls per fsync, last 1000 batches']);
  return rows;
}
