import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database, { type Database as DB } from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { WEBHOOK_SECRET_FILE } from '../alerts/signing.js';
import { systemClock, type Clock } from '../clock.js';
import { ensurePartitions, migrate } from './postgres/schema.js';
import { DataDirInUseError, DataDirLock } from './data-dir-lock.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

/** Rows per INSERT: few round trips, yet millions of events never sit in memory at once. */
const BATCH_ROWS = 5_000;
/** A progress line for a large table every this many rows. */
const PROGRESS_ROWS = 500_000;

type Column = readonly [name: string, type: 'text' | 'bigint'];

interface TableCopy {
  /** The table in PostgreSQL (and, but for event_keys, in SQLite). */
  table: string;
  columns: readonly Column[];
  /** Reads the rows from SQLite, columns in the order above; by default those columns, in `order`. */
  select?: string;
  order?: string;
}

const ROLLUP_COLUMNS: readonly Column[] = [
  ['group_id', 'text'], ['dimension', 'text'], ['bucket', 'bigint'], ['value', 'text'], ['count', 'bigint'],
  ['app_id_sole', 'text'], ['usage_type_sole', 'text'], ['request_args_hash_sole', 'text'],
];

/**
 * Everything the embedded store keeps, parents before children (the
 * foreign keys). Events go in their SQLite order and PostgreSQL numbers them
 * anew; rollups are copied as they are, not recomputed from the events.
 */
const TABLES: readonly TableCopy[] = [
  {
    table: 'plans', order: 'id',
    columns: [['id', 'text'], ['monthly_quota', 'bigint'], ['rate_limit_per_minute', 'bigint'], ['price_per_call', 'text'], ['time_zone', 'text'],
      ['created_at', 'bigint'], ['updated_at', 'bigint'], ['currency', 'text'], ['prices', 'text'], ['limits', 'text'], ['credits', 'text']],
  },
  {
    table: 'customer_groups', order: 'id',
    columns: [['id', 'text'], ['name', 'text'], ['plan_id', 'text'], ['created_at', 'bigint'], ['updated_at', 'bigint'],
      ['limit_overrides', 'text'], ['limits', 'text']],
  },
  {
    table: 'apps', order: 'id',
    columns: [['id', 'text'], ['group_id', 'text'], ['name', 'text'], ['monthly_quota', 'bigint'], ['rate_limit_per_minute', 'bigint'],
      ['disabled_at', 'bigint'], ['created_at', 'bigint'], ['updated_at', 'bigint'], ['limit_overrides', 'text'], ['limits', 'text']],
  },
  {
    table: 'api_keys', order: 'id',
    columns: [['id', 'text'], ['app_id', 'text'], ['name', 'text'], ['hint', 'text'], ['secret_hash', 'text'],
      ['created_at', 'bigint'], ['expires_at', 'bigint'], ['revoked_at', 'bigint']],
  },
  {
    table: 'service_tokens', order: 'id',
    columns: [['id', 'text'], ['name', 'text'], ['hint', 'text'], ['secret_hash', 'text'], ['created_at', 'bigint'], ['revoked_at', 'bigint']],
  },
  {
    table: 'events', order: 'seq',
    columns: [['ts', 'bigint'], ['group_id', 'text'], ['app_id', 'text'], ['key_id', 'text'], ['usage_type', 'text'],
      ['request_args_hash', 'text'], ['count', 'bigint'], ['received_at', 'bigint']],
  },
  {
    // SQLite keeps an ingest id with its event's seq; PostgreSQL ages it by when that event was received.
    table: 'event_keys',
    columns: [['key', 'text'], ['received_at', 'bigint']],
    select: 'SELECT k.key, e.received_at FROM event_keys k JOIN events e ON e.seq = k.seq ORDER BY k.seq',
  },
  { table: 'check_replies', order: 'group_id, idempotency_key', columns: [['group_id', 'text'], ['idempotency_key', 'text'], ['created_at', 'bigint'], ['result', 'text']] },
  ...(['quarter', 'hour', 'day'] as const).map((level) => ({ table: `rollup_${level}`, order: 'group_id, dimension, bucket, value', columns: ROLLUP_COLUMNS })),
  {
    table: 'statements', order: 'group_id, period',
    columns: [['group_id', 'text'], ['period', 'text'], ['period_start', 'bigint'], ['period_end', 'bigint'], ['closed_at', 'bigint'],
      ['currency', 'text'], ['total', 'bigint'], ['document', 'text']],
  },
  {
    table: 'alert_settings', order: 'group_id',
    columns: [['group_id', 'text'], ['thresholds', 'text'], ['kinds', 'text'], ['updated_at', 'bigint'], ['credits_low', 'text']],
  },
  {
    table: 'alerts', order: 'id',
    columns: [['id', 'text'], ['group_id', 'text'], ['kind', 'text'], ['subject', 'text'], ['threshold', 'bigint'], ['period_start', 'bigint'],
      ['created_at', 'bigint'], ['body', 'text']],
  },
  {
    table: 'webhook_endpoints', order: 'id',
    columns: [['id', 'text'], ['url', 'text'], ['group_ids', 'text'], ['description', 'text'], ['created_at', 'bigint'], ['disabled_at', 'bigint']],
  },
  {
    // Leases are left behind: no deliverer of the embedded store is running any more.
    table: 'webhook_deliveries', order: 'id',
    columns: [['id', 'text'], ['alert_id', 'text'], ['endpoint_id', 'text'], ['group_id', 'text'], ['status', 'text'], ['attempt_count', 'bigint'],
      ['next_attempt_at', 'bigint'], ['replay_of', 'text'], ['created_at', 'bigint']],
  },
  {
    table: 'webhook_attempts', order: 'delivery_id, n',
    columns: [['delivery_id', 'text'], ['n', 'bigint'], ['at', 'bigint'], ['duration_ms', 'bigint'], ['status_code', 'bigint'], ['error', 'text']],
  },
  {
    table: 'credit_grants', order: 'id',
    columns: [['id', 'text'], ['group_id', 'text'], ['amount', 'bigint'], ['used', 'bigint'], ['priority', 'bigint'], ['expires_at', 'bigint'],
      ['note', 'text'], ['idempotency_key', 'text'], ['source', 'text'], ['period_start', 'bigint'], ['created_at', 'bigint'], ['voided_at', 'bigint']],
  },
  { table: 'credit_debts', order: 'group_id', columns: [['group_id', 'text'], ['debt', 'bigint']] },
  // The cookies of these sessions still open on the scale-out instances (same server secret): they stay ended.
  { table: 'ended_sessions', order: 'sid', columns: [['sid', 'text'], ['expires_at', 'bigint']] },
];

/** Rows copied, per table, in the order they were copied. */
export type MigrationCounts = Record<string, number>;

export interface MigrateOptions {
  /** "Now", for the embedded store's recovery and the event partitions (default: the system clock). */
  clock?: Clock;
}

/**
 * Copies an embedded store (the data directory of `tollgate serve` without a
 * database URL) into the PostgreSQL database of the scale-out mode.
 *
 * The store is opened as a server would open it first: that takes the data
 * directory's lock (a running server makes this fail) and rolls up the events
 * past the watermark, so the rollups copied are complete. The file is then
 * read under the same lock, in one read transaction, and written in one
 * PostgreSQL transaction, which is verified before it commits: a failure
 * anywhere leaves the target's data untouched. Only a database with no plan
 * and no event is accepted, so running it twice cannot count usage twice.
 */
export async function migrateEmbedded(dataDir: string, pool: Pool, print: (line: string) => void, options: MigrateOptions = {}): Promise<MigrationCounts> {
  const clock = options.clock ?? systemClock;
  const path = join(dataDir, 'tollgate.db');
  // Opening the store would create an empty one: a mistyped directory must not pass for an empty store.
  if (!existsSync(path)) throw new Error(`No embedded store in ${dataDir}: ${path} does not exist.`);

  try {
    await migrate(pool);
  } catch (error) {
    throw new Error(`Cannot bring the PostgreSQL database to the current schema: ${(error as Error).message}`);
  }
  await refuseUnlessFresh(pool); // before anything else, so a refused run changes nothing in the data directory either

  const { db, lock } = await openSettled(dataDir, path, clock);
  try {
    db.exec('BEGIN'); // one snapshot for the copy and the verification
    await createPartitions(pool, db, clock.now());
    const counts = await copyAll(db, pool, print);
    db.exec('COMMIT');
    return counts;
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
    db.close();
    lock.release();
  }
}

/** The lines that end a migration: what was copied, and what the operator must do next. */
export function migrationSummary(counts: MigrationCounts, dataDir: string): string[] {
  const width = Math.max(...Object.keys(counts).map((t) => t.length));
  return [
    'Copied:',
    ...Object.entries(counts).map(([table, rows]) => `  ${table.padEnd(width)}  ${rows.toLocaleString('en-US')}`),
    'The admin token was not copied (the embedded store keeps only its hash, in the data directory):',
    'set TOLLGATE_ADMIN_TOKEN, the same on every scale-out instance, with TOLLGATE_DATABASE_URL and TOLLGATE_REDIS_URL.',
    `Webhook signing secrets derive from a server secret: set TOLLGATE_WEBHOOK_SECRET on every instance to the one in ${join(dataDir, WEBHOOK_SECRET_FILE)}`,
    '(unless TOLLGATE_WEBHOOK_SECRET was set already), or every endpoint\'s signing secret changes.',
  ];
}

// ---------------------------------------------------------------- steps

interface Queryable {
  query: PoolClient['query'];
}

async function refuseUnlessFresh(target: Queryable): Promise<void> {
  const { rows } = await target.query<{ plans: boolean; events: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM plans) AS plans, EXISTS (SELECT 1 FROM events) AS events');
  const held = [rows[0]!.plans ? 'plans' : null, rows[0]!.events ? 'events' : null].filter((x) => x !== null);
  if (held.length > 0) {
    throw new Error(`The database already holds ${held.join(' and ')}: migrate copies into a fresh database only `
      + '(copying into one in use could count usage twice). Nothing was written.');
  }
}

/**
 * Opens the store as a server would (lock, schema, rollup recovery), closes
 * it, and reopens the file read-only under a lock of our own, so that no
 * server can start on it while it is copied.
 */
async function openSettled(dataDir: string, path: string, clock: Clock): Promise<{ db: DB; lock: DataDirLock }> {
  try {
    // The intervals are the store's usual ones; it is closed before any of them fires.
    await new SqliteStore({ dataDir, clock, idempotencyWindowMs: 35 * 86_400_000, rollupFlushMs: 250 }).close();
  } catch (error) {
    if (!(error instanceof DataDirInUseError)) throw error;
    throw new Error(`${error.message} Stop that server first: every call it answered must be on disk, and none may arrive during the copy.`);
  }
  const lock = DataDirLock.acquire(dataDir);
  try {
    return { db: new Database(path, { readonly: true, fileMustExist: true }), lock };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * Monthly partitions for every month the events span, as a server would have
 * made them, so old events do not all land in the default partition. Empty
 * tables only: they hold no data, and a server creates them at start anyway.
 */
async function createPartitions(pool: Pool, db: DB, now: number): Promise<void> {
  const first = db.prepare('SELECT MIN(ts) FROM events').pluck().get() as number | null;
  if (first === null || first >= now) {
    await ensurePartitions(pool, now);
    return;
  }
  const month = (ms: number) => new Date(ms).getUTCFullYear() * 12 + new Date(ms).getUTCMonth();
  await ensurePartitions(pool, first, Math.min(month(now) - month(first), 120) + 2);
}

/** Every table in one transaction, verified before it commits. */
async function copyAll(db: DB, pool: Pool, print: (line: string) => void): Promise<MigrationCounts> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Nothing else may write while we copy: checked fresh again under the lock, and the verification sees only our rows.
    await client.query(`LOCK TABLE ${TABLES.map((t) => t.table).join(', ')} IN EXCLUSIVE MODE`);
    await refuseUnlessFresh(client);
    const counts: MigrationCounts = {};
    for (const spec of TABLES) counts[spec.table] = await copyTable(db, client, spec, print);
    const verified = await verify(db, client, counts);
    await client.query('COMMIT');
    print(`verified: ${verified}`);
    return counts;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function copyTable(db: DB, client: PoolClient, spec: TableCopy, print: (line: string) => void): Promise<number> {
  const names = spec.columns.map(([name]) => name);
  const select = spec.select ?? `SELECT ${names.join(', ')} FROM ${spec.table} ORDER BY ${spec.order}`;
  const insert = `INSERT INTO ${spec.table} (${names.join(', ')})
    SELECT * FROM unnest(${spec.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})`;
  let batch: unknown[][] = [];
  let copied = 0;
  const flush = async () => {
    // Column arrays: one parameter per column, whatever the number of rows.
    await client.query(insert, spec.columns.map((_, c) => batch.map((row) => row[c])));
    copied += batch.length;
    if (copied % PROGRESS_ROWS < batch.length) print(`  ${spec.table}: ${copied.toLocaleString('en-US')} rows so far`);
    batch = [];
  };
  for (const row of db.prepare(select).raw(true).iterate() as IterableIterator<unknown[]>) {
    batch.push(row);
    if (batch.length === BATCH_ROWS) await flush();
  }
  if (batch.length > 0) await flush();
  return copied;
}

/**
 * Reads back what the transaction wrote: the rows of every table, each
 * group's units in the events, each group's daily rollups per dimension,
 * and each group's credits, against the embedded store. Returns what was checked, or throws.
 */
async function verify(db: DB, client: PoolClient, counts: MigrationCounts): Promise<string> {
  const problems: string[] = [];
  for (const [table, rows] of Object.entries(counts)) {
    const { rows: found } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    if (BigInt(found[0]!.n) !== BigInt(rows)) problems.push(`${table} holds ${found[0]!.n} rows, ${rows} were copied`);
  }
  const compare = async (what: string, sqlite: string, postgres: string) => {
    const source = new Map((db.prepare(sqlite).raw(true).safeIntegers(true).all() as Array<[string, bigint]>).map(([k, v]) => [k, v]));
    const { rows } = await client.query<{ k: string; total: string }>(postgres);
    const target = new Map(rows.map((r) => [r.k, BigInt(r.total)]));
    for (const k of new Set([...source.keys(), ...target.keys()])) {
      if (source.get(k) !== target.get(k)) problems.push(`${what} ${k}: ${source.get(k) ?? 0n} in SQLite, ${target.get(k) ?? 0n} in PostgreSQL`);
    }
    return source;
  };
  const units = await compare('units of group',
    'SELECT group_id, SUM(count) FROM events GROUP BY group_id',
    'SELECT group_id AS k, SUM(count)::text AS total FROM events GROUP BY group_id');
  await compare('daily rollups of group/dimension',
    "SELECT group_id || '/' || dimension, SUM(count) FROM rollup_day GROUP BY group_id, dimension",
    "SELECT group_id || '/' || dimension AS k, SUM(count)::text AS total FROM rollup_day GROUP BY group_id, dimension");
  // Credits: what each group's grants hold and have used, less its debt, whatever their state.
  await compare('credits left of group',
    'SELECT group_id, SUM(amount - used) - COALESCE((SELECT debt FROM credit_debts d WHERE d.group_id = g.group_id), 0) FROM credit_grants g GROUP BY group_id',
    `SELECT group_id AS k, (SUM(amount - used) - COALESCE((SELECT debt FROM credit_debts d WHERE d.group_id = g.group_id), 0))::text AS total
      FROM credit_grants g GROUP BY group_id`);
  if (problems.length > 0) {
    throw new Error(`Verification failed, nothing was written: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`);
  }
  const total = [...units.values()].reduce((a, b) => a + b, 0n);
  const groups = `${units.size} group${units.size === 1 ? '' : 's'}`;
  return `every table's row count, and each group's units in the events and in the daily rollups (${groups}, ${total.toLocaleString('en-US')} units), equal the embedded store's`;
}
