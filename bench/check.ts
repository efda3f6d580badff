import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type autocannon from 'autocannon';
import { processCpuMs, startServer, type ChildServer, type StopResult } from './lib/child.js';
import { adminApi, createCatalogue } from './lib/http.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { BENCH_ADMIN_TOKEN, serverScript } from './lib/paths.js';
import { int, log, ms } from './lib/stats.js';

export interface CheckOptions {
  connections: number;
  durationS: number;
  warmupS: number;
  keys: number;
  groups: number;
  /** Which bearer token the check calls carry: a service token (as a provider's backend would) or the admin token. */
  auth: 'service' | 'admin';
}

export interface CheckReport {
  options: CheckOptions;
  tollgate: { warmup: LoadResult; measured: LoadResult; server: StopResult; meanBatch: number | null };
  peer: { warmup: LoadResult; measured: LoadResult; server: StopResult };
  ratios: { reqPerSec: number; p99: number; cpuPerCall: number | null };
  /** Server CPU time (all threads) per answered call, in microseconds: the cost that does not depend on how busy the machine is. */
  cpuUsPerCall: { tollgate: number | null; peer: number | null };
  durability: {
    eventRows: number;
    admittedAnswers: number;
    /** 2xx answers as autocannon counted them (warm-up and measured run). */
    status2xx: number;
    equal: boolean;
    exact: boolean;
  };
  failures: string[];
  warnings: string[];
}

const USAGE_TYPES = ['image', 'image-async', 'pdf', 'text'];

/** Every non-error answer of both servers says allowed=true in its body. */
const admitted = (body: string): boolean => body.includes('"allowed":true');

/**
 * POST /v1/check under autocannon, Tollgate against a plain Fastify +
 * @fastify/rate-limit server in the same run, then the durability check:
 * after a SIGTERM stop, the events table holds exactly one row per
 * admitted answer.
 */
export async function runCheckBench(options: CheckOptions): Promise<CheckReport> {
  const failures: string[] = [];
  const warnings: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-check-'));
  const servers: ChildServer[] = [];
  try {
    const tollgate = await startServer('tollgate', serverScript('tollgate-server'), {
      TOLLGATE_DATA_DIR: dataDir, TOLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn',
    });
    servers.push(tollgate);
    const peer = await startServer('peer', serverScript('peer-server'), {});
    servers.push(peer);

    const admin = adminApi(tollgate.url, BENCH_ADMIN_TOKEN);
    const appsPerGroup = Math.max(1, Math.round(options.keys / options.groups));
    const catalogue = await createCatalogue(admin, { prefix: 'ck', groups: options.groups, appsPerGroup });
    const bearer = options.auth === 'admin'
      ? BENCH_ADMIN_TOKEN
      : (await admin<{ token: string }>('POST', '/admin/service-tokens', { name: 'bench' })).token;
    log(`check: ${catalogue.keys.length} keys in ${catalogue.groups.length} groups, ${options.auth} token; ${options.connections} connections, ${options.warmupS} s warm-up + ${options.durationS} s each`);

    // The same requests go to both servers: the key in x-api-key (the peer's
    // rate-limit key) and in the body (Tollgate's check API reads it there).
    const requests: autocannon.Request[] = catalogue.keys.map((k, i) => ({
      method: 'POST',
      path: '/v1/check',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, 'x-api-key': k.key },
      body: JSON.stringify({ key: k.key, usage_type: USAGE_TYPES[i % USAGE_TYPES.length], request_args: { page: i % 8, lang: 'en' } }),
    }));

    const measure = async (server: ChildServer) => {
      const load = { url: server.url, connections: options.connections, requests, admitted };
      const warmup = await runLoad({ ...load, durationS: options.warmupS });
      const cpuBefore = processCpuMs(server.pid);
      const measured = await runLoad({ ...load, durationS: options.durationS });
      const cpuAfter = processCpuMs(server.pid);
      const cpuUsPerCall = cpuBefore === null || cpuAfter === null || measured.answered === 0 ? null : ((cpuAfter - cpuBefore) * 1000) / measured.answered;
      log(`check: ${server.label.padEnd(8)} ${int(measured.reqPerSec)} req/s, p99 ${ms(measured.latencyP99Ms)}, ${int(measured.admitted)} admitted (+${int(warmup.admitted)} warm-up)`);
      for (const [phase, r] of [['warm-up', warmup], ['measured', measured]] as const) {
        if (r.non2xx > 0 || r.errors > 0 || r.notAdmitted > 0) {
          warnings.push(`${server.label} ${phase}: ${r.non2xx} non-2xx, ${r.errors} errors (${r.timeouts} timeouts), ${r.notAdmitted} answers without allowed=true`);
        }
      }
      return { warmup, measured, cpuUsPerCall };
    };

    const ours = await measure(tollgate);
    const tollgateStop = await tollgate.stop();
    servers.splice(servers.indexOf(tollgate), 1);
    if (tollgateStop.code !== 0 || tollgateStop.killed) {
      failures.push(`tollgate did not stop cleanly on SIGTERM (code ${tollgateStop.code}, signal ${tollgateStop.signal}${tollgateStop.killed ? ', killed' : ''})`);
    }

    const theirs = await measure(peer);
    const peerStop = await peer.stop();
    servers.splice(servers.indexOf(peer), 1);

    // Durability: every admitted answer is a row, and nothing else is.
    const db = new Database(join(dataDir, 'tollgate.db'), { readonly: true, fileMustExist: true });
    const eventRows = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    db.close();
    const admittedAnswers = ours.warmup.admitted + ours.measured.admitted;
    const inFlight = ours.warmup.inFlightAtEnd + ours.measured.inFlightAtEnd;
    const exact = inFlight === 0;
    const equal = eventRows === admittedAnswers;
    const status2xx = ours.warmup.status2xx + ours.measured.status2xx;
    log(`check: durability: ${int(eventRows)} event rows, ${int(admittedAnswers)} answers allowed=true (of ${int(status2xx)} 2xx)`
      + `${exact ? '' : ` (${inFlight} requests unanswered at the end)`}: ${equal ? 'equal' : 'DIFFERENT'}`);
    if (!equal) {
      if (exact || eventRows < admittedAnswers || eventRows > admittedAnswers + inFlight) {
        failures.push(`durability: the events table holds ${eventRows} rows but ${admittedAnswers} calls were answered allowed=true`
          + (exact ? '' : ` (${inFlight} more were unanswered when the connections closed)`));
      } else {
        warnings.push(`durability: ${eventRows - admittedAnswers} rows for requests left unanswered by the load generator (${inFlight} in flight at the end); exact comparison not possible`);
      }
    }

    const stats = tollgateStop.stats as { meanBatch?: number | null } | null;
    const cpuUsPerCall = { tollgate: ours.cpuUsPerCall, peer: theirs.cpuUsPerCall };
    return {
      cpuUsPerCall,
      options,
      tollgate: { ...ours, server: tollgateStop, meanBatch: stats?.meanBatch ?? null },
      peer: { ...theirs, server: peerStop },
      ratios: {
        reqPerSec: ours.measured.reqPerSec / theirs.measured.reqPerSec,
        p99: ours.measured.latencyP99Ms / theirs.measured.latencyP99Ms,
        cpuPerCall: cpuUsPerCall.tollgate !== null && cpuUsPerCall.peer !== null ? cpuUsPerCall.tollgate / cpuUsPerCall.peer : null,
      },
      durability: { eventRows, admittedAnswers, status2xx, equal, exact },
      failures,
      warnings,
    };
  } finally {
    for (const server of servers) await server.stop(10_000).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
