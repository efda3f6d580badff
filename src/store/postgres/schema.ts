import type { Pool, PoolClient } from 'pg';
import { ALERT_TABLES, CREDITS_LOW_COLUMN } from '../alert-rows.js';
import { LIMIT_COLUMNS } from '../catalog-rows.js';
import { CREDIT_TABLES } from '../credit-rows.js';
import { ENDED_SESSIONS_TABLE } from '../ended-sessions.js';
import { backfillUsageTypeRollups } from '../rollup-backfill.js';

/**
 * The scale-out store's schema in PostgreSQL: the same model as the embedded
 * store (src/store/sqlite/schema.ts), with events partitioned by month.
 *
 * Versioned migrations, applied in order at start inside one transaction
 * each. Several instances may start at once: each takes the same advisory
 * lock first, so exactly one applies a migration and the others find it done.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    monthly_quota BIGINT NOT NULL,
    rate_limit_per_minute BIGINT NOT NULL,
    price_per_call TEXT,
    time_zone TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE customer_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan_id TEXT NOT NULL REFERENCES plans(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES customer_groups(id),
    name TEXT NOT NULL,
    monthly_quota BIGINT,
    rate_limit_per_minute BIGINT,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX apps_by_group ON apps(group_id, id);
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    name TEXT NOT NULL,
    hint TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
  );
  CREATE INDEX api_keys_by_app ON api_keys(app_id, id);
  CREATE TABLE service_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hint TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
  );

  -- Raw usage, partitioned by month of ts (milliseconds since the epoch, UTC);
  -- partitions are created ahead by ensurePartitions, and the default
  -- partition catches anything outside them, so an insert never fails for
  -- want of a partition.
  CREATE TABLE events (
    seq BIGSERIAL,
    ts BIGINT NOT NULL,
    group_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    key_id TEXT,
    usage_type TEXT NOT NULL,
    request_args_hash TEXT NOT NULL,
    count BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (ts, seq)
  ) PARTITION BY RANGE (ts);
  CREATE TABLE events_default PARTITION OF events DEFAULT;

  CREATE TABLE event_keys (
    key TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
  );
  CREATE INDEX event_keys_by_age ON event_keys(received_at);

  CREATE TABLE check_replies (
    group_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (group_id, idempotency_key)
  );
  CREATE INDEX check_replies_by_age ON check_replies(created_at);

  ${['quarter', 'hour', 'day'].map((level) => `
  CREATE TABLE rollup_${level} (
    group_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    value TEXT NOT NULL,
    count BIGINT NOT NULL,
    app_id_sole TEXT,
    usage_type_sole TEXT,
    request_args_hash_sole TEXT,
    PRIMARY KEY (group_id, dimension, bucket, value)
  );`).join('\n')}
  `,
  // Rollup rows are spread over shards: instances that count the same hot row
  // at once update different shards instead of queueing on one row lock.
  // Queries sum over the shards, as they sum over buckets.
  ['quarter', 'hour', 'day'].map((level) => `
  ALTER TABLE rollup_${level} ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
  ALTER TABLE rollup_${level} DROP CONSTRAINT rollup_${level}_pkey;
  ALTER TABLE rollup_${level} ADD PRIMARY KEY (group_id, dimension, bucket, value, shard);`).join('\n'),
  // Plan prices and closed billing statements, as in the embedded store's migration 3.
  `
  ALTER TABLE plans ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD';
  ALTER TABLE plans ADD COLUMN prices TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE statements (
    group_id TEXT NOT NULL,
    period TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    closed_at BIGINT NOT NULL,
    currency TEXT NOT NULL,
    total BIGINT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (group_id, period)
  );
  `,
  // Usage alerts and the outbox of their webhook deliveries.
  ALERT_TABLES,
  // Dashboard sessions signed out of before they expired.
  ENDED_SESSIONS_TABLE,
  // Named limits and overrides of plans, groups and apps, and plans' credits, as in the embedded store's migration 7.
  LIMIT_COLUMNS,
  // Prepaid credits: grants, and each group's debt.
  CREDIT_TABLES,
  // Usage per app and usage type, and per key and usage type (src/domain/rollups.ts, RollupDimension), from every
  // event stored: instances start writing them once they run this version, so events that an instance of an
  // earlier version writes after this migration are missing from them (stop those before upgrading).
  backfillUsageTypeRollups('TRUE', true),
  // Alert settings' credits_low: when a group's balance counts as low (src/domain/alerts.ts, CreditsLow).
  CREDITS_LOW_COLUMN.postgres,
  // Credits used, appended by each batch of writes in its events statement rather than added to the grant rows,
  // which every instance's batches queued on for one hot group; folded into credit_grants.used and
  // credit_debts.debt now and then (PgCredits.fold). A grant's use, or a group's new debt: one of the two ids.
  // IF NOT EXISTS: safe to run again, as a test of the backfill before it does.
  `
  CREATE TABLE IF NOT EXISTS credit_uses (
    grant_id TEXT,
    group_id TEXT,
    amount BIGINT NOT NULL,
    CHECK ((grant_id IS NULL) <> (group_id IS NULL))
  );
  CREATE INDEX IF NOT EXISTS credit_uses_by_grant ON credit_uses(grant_id) WHERE grant_id IS NOT NULL;
  CREATE INDEX IF NOT EXISTS credit_uses_by_group ON credit_uses(group_id) WHERE group_id IS NOT NULL;
  `,
];

/** Any fixed 64-bit number: the advisory lock every instance takes to migrate. */
const MIGRATION_LOCK = 7_310_924_611;

/**
 * Brings the database to the latest schema version. Safe to call from many
 * instances at once; returns the version it found before migrating.
 */
export async function migrate(pool: Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (id INT PRIMARY KEY CHECK (id = 1), version INT NOT NULL)');
      await client.query('INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
      const found = await currentVersion(client);
      for (let version = found; version < MIGRATIONS.length; version += 1) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[version]!);
          await client.query('UPDATE schema_version SET version = $1 WHERE id = 1', [version + 1]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      }
      return found;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

async function currentVersion(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_version WHERE id = 1');
  return rows[0]!.version;
}

/**
 * Creates the monthly partitions of `events` for the month holding `now`
 * and the `ahead` months after it (UTC months), if they are missing.
 */
export async function ensurePartitions(pool: Pool, now: number, ahead = 2): Promise<string[]> {
  const created: string[] = [];
  const start = new Date(now);
  for (let i = 0; i <= ahead; i += 1) {
    const from = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + i, 1);
    const to = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + i + 1, 1);
    const d = new Date(from);
    const name = `events_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    const exists = await pool.query('SELECT 1 FROM pg_class WHERE relname = $1', [name]);
    if (exists.rowCount !== 0) continue;
    try {
      await pool.query(`CREATE TABLE ${name} PARTITION OF events FOR VALUES FROM (${from}) TO (${to})`);
      created.push(name);
    } catch (error) {
      // Another instance created it first (42P07), or rows for that month sit in the default partition (23514).
      const code = (error as { code?: string }).code;
      if (code !== '42P07' && code !== '23514') throw error;
    }
  }
  return created;
}
