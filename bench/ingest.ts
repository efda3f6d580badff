import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { processCpuMs, startServer, type ChildServer } from './lib/child.js';
import { adminApi, createCatalogue } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, serverScript } from './lib/paths.js';
import { int, log } from './lib/stats.js';

export interface IngestOptions {
  /** Batches per side. */
  batches: number;
  batchSize: number;
  /** Requests in flight at once. */
  concurrency: number;
}

export interface IngestSide {
  events: number;
  seconds: number;
  eventsPerSec: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  cpuUsPerEvent: number | null;
}

export interface IngestReport {
  options: IngestOptions;
  tollgate: IngestSide & { resentDuplicates: number; eventRows: number };
  peer: IngestSide;
  ratio: number;
  failures: string[];
}

const USAGE_TYPES = ['image', 'image-async', 'pdf', 'text'];

/**
 * POST /v1/events in JSON batches over HTTP into the embedded store, with
 * deduplication on and every batch durable before its answer, against a
 * hand-written Fastify + SQLite event table in the same run. Then the
 * correctness checks: every event accepted once, a resent batch is all
 * duplicates, and the events table holds exactly what was accepted.
 */
export async function runIngestBench(options: IngestOptions): Promise<IngestReport> {
  const failures: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-ingest-'));
  const servers: ChildServer[] = [];
  try {
    const tollgate = await startServer('tollgate', serverScript('tollgate-server'), {
      TOLLGATE_DATA_DIR: join(dataDir, 'tollgate'), TOLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn',
    });
    servers.push(tollgate);
    const peer = await startServer('peer', serverScript('ingest-peer-server'), { PEER_DATA_DIR: join(dataDir, 'peer') });
    servers.push(peer);
    const catalogue = await createCatalogue(adminApi(tollgate.url, BENCH_ADMIN_TOKEN), { prefix: 'in', groups: 10, appsPerGroup: 10 });
    const apps = catalogue.keys.map((k) => k.appId);

    log(`ingest: ${options.batches} batches of ${options.batchSize} events per side, ${options.concurrency} in flight, 100 apps`);
    const bodies = (tag: string) => Array.from({ length: options.batches }, (_, b) => JSON.stringify(Array.from({ length: options.batchSize }, (_, i) => ({
      id: `${tag}-${b}-${i}`,
      app_id: apps[(b * 7 + i) % apps.length],
      usage_type: USAGE_TYPES[i % USAGE_TYPES.length],
      count: 1 + (i % 3),
      request_args_hash: '',
    }))));

    const ours = await sendAll(tollgate, bodies('t'), options.concurrency);
    const resent = await sendAll(tollgate, bodies('t').slice(0, 10), options.concurrency);
    const theirs = await sendAll(peer, bodies('p'), options.concurrency);
    log(`ingest: tollgate ${int(ours.eventsPerSec)} events/s, peer ${int(theirs.eventsPerSec)} events/s`);

    const total = options.batches * options.batchSize;
    if (ours.accepted !== total || ours.rejected !== 0) failures.push(`ingest: ${ours.accepted} of ${total} events accepted, ${ours.rejected} rejected`);
    if (resent.duplicates !== 10 * options.batchSize) failures.push(`ingest: a resent batch gave ${resent.duplicates} duplicates of ${10 * options.batchSize}`);

    await tollgate.stop();
    servers.splice(servers.indexOf(tollgate), 1);
    const db = new Database(join(dataDir, 'tollgate', 'tollgate.db'), { readonly: true, fileMustExist: true });
    const eventRows = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    db.close();
    if (eventRows !== total) failures.push(`ingest: the events table holds ${eventRows} rows, ${total} were accepted`);
    log(`ingest: ${int(eventRows)} event rows for ${int(total)} accepted events; resent batches: ${int(resent.duplicates)} duplicates`);

    return {
      options,
      tollgate: { ...ours, resentDuplicates: resent.duplicates, eventRows },
      peer: theirs,
      ratio: ours.eventsPerSec / theirs.eventsPerSec,
      failures,
    };
  } finally {
    for (const server of servers) await server.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Sends every body with `concurrency` requests in flight; sums the verdicts. */
async function sendAll(server: ChildServer, bodies: string[], concurrency: number): Promise<IngestSide> {
  const pool = new Pool(server.url, { connections: concurrency, pipelining: 1 });
  let next = 0;
  let events = 0;
  const totals = { accepted: 0, duplicates: 0, rejected: 0 };
  const cpuBefore = processCpuMs(server.pid);
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const res = await pool.request({
        method: 'POST', path: '/v1/events', body,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_ADMIN_TOKEN}` },
      });
      const answer = (await res.body.json()) as { accepted: number; duplicates: number; rejected: unknown[] };
      if (res.statusCode !== 200) throw new Error(`POST /v1/events: ${res.statusCode} ${JSON.stringify(answer).slice(0, 300)}`);
      totals.accepted += answer.accepted;
      totals.duplicates += answer.duplicates;
      totals.rejected += answer.rejected.length;
      events += answer.accepted + answer.duplicates + answer.rejected.length;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = processCpuMs(server.pid);
  await pool.close();
  return {
    events, seconds, eventsPerSec: events / seconds, ...totals,
    cpuUsPerEvent: cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / events,
  };
}
