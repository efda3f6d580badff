import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { startServer, type ChildServer } from './lib/child.js';
import { adminApi, createCatalogue } from './lib/http.js';
import { BENCH_ADMIN_TOKEN, DATA_CACHE_DIR, serverScript } from './lib/paths.js';
import { int, log, median, ms, percentile } from './lib/stats.js';

export interface QueryOptions {
  events: number;
  /** Regenerate the data set even when a cached one exists. */
  fresh: boolean;
  /** Keep the rollups a previous run built (skips the rollup build figure). */
  keepRollups: boolean;
  httpRequests: number;
  sqlRuns: number;
}

export interface QueryReport {
  options: QueryOptions;
  dataDir: string;
  generated: boolean;
  generationMs: number | null;
  /** Events past the watermark when the store opened, and how long the open took (rolling them up). */
  rollupBuild: { events: number; ms: number | null; rssMb: number | null };
  http: { samplesMs: number[]; medianMs: number; p95Ms: number; minMs: number; records: number };
  /** GET /healthz over the same connection pool: what any answer costs here (HTTP, Fastify, the client). */
  floor: { samplesMs: number[]; medianMs: number };
  sql: { samplesMs: number[]; medianMs: number; p95Ms: number; minMs: number; rows: number };
  speedup: number;
  totals: { api: number; sql: number; cells: number };
  targets: { under10ms: boolean; atLeast100x: boolean };
  failures: string[];
}

const YEAR_START = Date.UTC(2025, 0, 1);
const YEAR_END = Date.UTC(2026, 0, 1);
const APPS = 100;
const USAGE_TYPES = ['image', 'image-async', 'pdf', 'text'];
const ARGS_HASHES = Array.from({ length: 8 }, (_, i) => createHash('sha1').update(`{"variant":${i}}`).digest('hex'));
const BATCH = 100_000;
const DIFFERENT_ANSWERS = 'usage query: two answers to the same query differ';

export const USAGE_PATH = '/v3/ocr-usage?from_date=2025-01-01T00:00:00Z&to_date=2026-01-01T00:00:00Z&group_by=usage_type&timespan=month';
export const RAW_SQL = `SELECT strftime('%Y-%m', ts/1000, 'unixepoch') AS month, usage_type, SUM(count) AS total
  FROM events WHERE group_id = ? AND ts >= ? AND ts < ? GROUP BY month, usage_type`;

interface Meta {
  complete: true;
  events: number;
  groupId: string;
  key: string;
  generationMs: number;
  createdAt: string;
}

const tollgateEnv = (dataDir: string) => ({ TOLLGATE_DATA_DIR: dataDir, TOLLGATE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN, TOLLGATE_LOG_LEVEL: 'warn' });

/** A small deterministic PRNG (mulberry32), so every data set of one size is the same. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A year of usage for one group of 100 apps: the catalogue through the admin
 * API (one short start), then the events straight into the events table,
 * behind the rollup watermark, as if a crash had left them all un-rolled-up.
 */
async function generate(dataDir: string, events: number): Promise<Meta> {
  const t0 = performance.now();
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const server = await startServer('tollgate (catalogue)', serverScript('tollgate-server'), tollgateEnv(dataDir));
  let catalogue;
  try {
    catalogue = await createCatalogue(adminApi(server.url, BENCH_ADMIN_TOKEN), { prefix: 'qy', groups: 1, appsPerGroup: APPS });
  } finally {
    const stopped = await server.stop();
    if (stopped.code !== 0) throw new Error(`catalogue server exited with code ${stopped.code}`);
  }
  const groupId = catalogue.groups[0]!;

  const db = new Database(join(dataDir, 'tollgate.db'));
  db.pragma('synchronous = OFF');
  const insert = db.prepare(`INSERT INTO events (ts, group_id, app_id, key_id, usage_type, request_args_hash, count, received_at)
    VALUES (?, ?, ?, ?, ?, ?, 1, ?)`);
  const random = prng(20250101);
  const span = YEAR_END - YEAR_START;
  const keys = catalogue.keys;
  const writeBatch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i += 1) {
      const ts = YEAR_START + Math.floor(((i + random()) * span) / events);
      const k = keys[Math.floor(random() * keys.length)]!;
      insert.run(ts, groupId, k.appId, k.keyId, USAGE_TYPES[Math.floor(random() * USAGE_TYPES.length)], ARGS_HASHES[Math.floor(random() * ARGS_HASHES.length)], ts);
    }
  });
  let nextReport = 0.1;
  for (let from = 0; from < events; from += BATCH) {
    writeBatch(from, Math.min(events, from + BATCH));
    const done = Math.min(events, from + BATCH) / events;
    if (done >= nextReport && events >= 1_000_000) {
      log(`query: generated ${Math.round(done * 100)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      while (nextReport <= done) nextReport += 0.1;
    }
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const meta: Meta = { complete: true, events, groupId, key: keys[0]!.key, generationMs: performance.now() - t0, createdAt: new Date().toISOString() };
  writeFileSync(join(dataDir, 'bench-meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return meta;
}

function readMeta(dataDir: string, events: number): Meta | null {
  const file = join(dataDir, 'bench-meta.json');
  if (!existsSync(file) || !existsSync(join(dataDir, 'tollgate.db'))) return null;
  try {
    const meta = JSON.parse(readFileSync(file, 'utf8')) as Meta;
    return meta.complete === true && meta.events === events ? meta : null;
  } catch {
    return null;
  }
}

/** Puts every event back behind the watermark, so the next open rebuilds the rollups (and is timed). */
function resetRollups(dbPath: string, keep: boolean): number {
  const db = new Database(dbPath);
  try {
    if (!keep) {
      const { seq } = db.prepare('SELECT seq FROM rollup_watermark WHERE id = 1').get() as { seq: number };
      if (seq > 0) {
        db.transaction(() => {
          for (const level of ['quarter', 'hour', 'day']) db.exec(`DELETE FROM rollup_${level}`);
          db.exec('UPDATE rollup_watermark SET seq = 0 WHERE id = 1');
        })();
        db.pragma('wal_checkpoint(TRUNCATE)');
      }
    }
    const { seq } = db.prepare('SELECT seq FROM rollup_watermark WHERE id = 1').get() as { seq: number };
    return (db.prepare('SELECT COUNT(*) AS n FROM events WHERE seq > ?').get(seq) as { n: number }).n;
  } finally {
    db.close();
  }
}

/**
 * GET /v3/ocr-usage over a year of 10M events, against the plain SQL GROUP
 * BY over the raw events it replaces, in the same run, and the two must
 * agree on every month and usage type.
 */
export async function runQueryBench(options: QueryOptions): Promise<QueryReport> {
  const failures: string[] = [];
  mkdirSync(DATA_CACHE_DIR, { recursive: true });
  if (!existsSync(join(DATA_CACHE_DIR, '.gitignore'))) writeFileSync(join(DATA_CACHE_DIR, '.gitignore'), '*\n!.gitignore\n');
  const dataDir = join(DATA_CACHE_DIR, `query-${options.events}`);
  const dbPath = join(dataDir, 'tollgate.db');

  let meta = options.fresh ? null : readMeta(dataDir, options.events);
  const generated = meta === null;
  if (meta === null) {
    log(`query: generating ${int(options.events)} events in ${dataDir}`);
    meta = await generate(dataDir, options.events);
    log(`query: generated in ${ms(meta.generationMs)}`);
  } else {
    log(`query: cached data set ${dataDir} (${int(meta.events)} events; --fresh regenerates)`);
  }

  const pending = resetRollups(dbPath, options.keepRollups);
  log(`query: starting Tollgate; ${int(pending)} events past the rollup watermark`);
  let server: ChildServer | null = null;
  try {
    server = await startServer('tollgate', serverScript('tollgate-server'), { ...tollgateEnv(dataDir), BENCH_TIME_STORE_OPEN: '1' }, 60 * 60_000);
    const rollupMs = server.ready.storeOpenMs as number | null;
    const rssMb = server.ready.rssAfterStoreOpenMb as number | null;
    log(`query: rollup build ${rollupMs === null ? '?' : ms(rollupMs)} for ${int(pending)} events (server rss after it: ${rssMb} MB)`);

    const url = `${server.url}${USAGE_PATH}`;
    const headers = { 'x-api-key': meta.key };
    let firstText: string | null = null;
    const httpOnce = async (): Promise<number> => {
      const t0 = performance.now();
      const response = await fetch(url, { headers });
      const text = await response.text();
      const elapsed = performance.now() - t0;
      if (response.status !== 200) throw new Error(`GET ${USAGE_PATH}: ${response.status} ${text.slice(0, 300)}`);
      if (firstText === null) firstText = text;
      else if (text !== firstText && !failures.includes(DIFFERENT_ANSWERS)) failures.push(DIFFERENT_ANSWERS);
      return elapsed;
    };

    const healthUrl = `${server.url}/healthz`;
    const floorOnce = async (): Promise<number> => {
      const t0 = performance.now();
      const response = await fetch(healthUrl);
      await response.text();
      return performance.now() - t0;
    };

    const ro = new Database(dbPath, { readonly: true, fileMustExist: true });
    const stmt = ro.prepare(RAW_SQL);
    let sqlRows: Array<{ month: string; usage_type: string; total: number }> = [];
    const sqlOnce = (): number => {
      const t0 = performance.now();
      sqlRows = stmt.all(meta!.groupId, YEAR_START, YEAR_END) as typeof sqlRows;
      return performance.now() - t0;
    };

    // Warm-up for both sides, then interleaved rounds so that noise hits both alike.
    for (let i = 0; i < 3; i += 1) {
      await httpOnce();
      await floorOnce();
    }
    sqlOnce();
    const httpMs: number[] = [];
    const floorMs: number[] = [];
    const sqlMs: number[] = [];
    const rounds = Math.max(1, options.sqlRuns);
    for (let round = 0; round < rounds; round += 1) {
      const n = Math.ceil((options.httpRequests - httpMs.length) / (rounds - round));
      for (let i = 0; i < n; i += 1) {
        httpMs.push(await httpOnce());
        floorMs.push(await floorOnce());
      }
      sqlMs.push(sqlOnce());
      log(`query: round ${round + 1}/${rounds}: http median so far ${ms(median(httpMs))}, sql ${ms(sqlMs[sqlMs.length - 1]!)}`);
    }
    ro.close();

    // Same totals per month and usage type, and all events accounted for.
    const records = (JSON.parse(firstText!) as { ocr_usage: Array<{ from_date: string; usage_type: string; count: number }> }).ocr_usage;
    const api = new Map<string, number>();
    for (const r of records) api.set(`${r.from_date.slice(0, 7)} ${r.usage_type}`, (api.get(`${r.from_date.slice(0, 7)} ${r.usage_type}`) ?? 0) + r.count);
    const sql = new Map<string, number>(sqlRows.map((r) => [`${r.month} ${r.usage_type}`, r.total]));
    const cells = new Set([...api.keys(), ...sql.keys()]);
    const differing = [...cells].filter((c) => api.get(c) !== sql.get(c));
    if (differing.length > 0) {
      failures.push(`usage query: ${differing.length} of ${cells.size} month/usage_type totals differ from the raw GROUP BY, e.g. `
        + differing.slice(0, 3).map((c) => `${c}: api ${api.get(c) ?? 'missing'} vs sql ${sql.get(c) ?? 'missing'}`).join('; '));
    }
    const apiTotal = [...api.values()].reduce((a, b) => a + b, 0);
    const sqlTotal = [...sql.values()].reduce((a, b) => a + b, 0);
    if (sqlTotal !== options.events) failures.push(`raw GROUP BY sums to ${sqlTotal}, expected ${options.events} events`);
    if (apiTotal !== options.events) failures.push(`usage query sums to ${apiTotal}, expected ${options.events} events`);
    log(`query: totals: api ${int(apiTotal)}, sql ${int(sqlTotal)} over ${cells.size} month/usage_type cells: ${differing.length === 0 ? 'equal' : 'DIFFERENT'}`);

    const stopped = await server.stop();
    server = null;
    if (stopped.code !== 0) failures.push(`tollgate exited with code ${stopped.code} on SIGTERM`);

    const httpMedian = median(httpMs);
    const sqlMedian = median(sqlMs);
    return {
      options,
      dataDir,
      generated,
      generationMs: generated ? meta.generationMs : null,
      rollupBuild: { events: pending, ms: rollupMs, rssMb },
      http: { samplesMs: httpMs, medianMs: httpMedian, p95Ms: percentile(httpMs, 95), minMs: Math.min(...httpMs), records: records.length },
      floor: { samplesMs: floorMs, medianMs: median(floorMs) },
      sql: { samplesMs: sqlMs, medianMs: sqlMedian, p95Ms: percentile(sqlMs, 95), minMs: Math.min(...sqlMs), rows: sqlRows.length },
      speedup: sqlMedian / httpMedian,
      totals: { api: apiTotal, sql: sqlTotal, cells: cells.size },
      targets: { under10ms: httpMedian < 10, atLeast100x: sqlMedian / httpMedian >= 100 },
      failures,
    };
  } finally {
    if (server !== null) await server.stop(30_000).catch(() => undefined);
  }
}
