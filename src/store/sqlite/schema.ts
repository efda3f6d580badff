import type { Database } from 'better-sqlite3';
import { ALERT_TABLES, CREDITS_LOW_COLUMN } from '../alert-rows.js';
import { LIMIT_COLUMNS } from '../catalog-rows.js';
import { CREDIT_TABLES } from '../credit-rows.js';
import { ENDED_SESSIONS_TABLE } from '../ended-sessions.js';
import { backfillUsageTypeRollups } from '../rollup-backfill.js';

/**
 * Versioned migrations, applied in order at open inside one transaction each;
 * `PRAGMA user_version` records the last one applied.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    monthly_quota INTEGER NOT NULL,
    rate_limit_per_minute INTEGER NOT NULL,
    price_per_call TEXT,
    time_zone TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE customer_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan_id TEXT NOT NULL REFERENCES plans(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES customer_groups(id),
    name TEXT NOT NULL,
    monthly_quota INTEGER,
    rate_limit_per_minute INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX apps_by_group ON apps(group_id, id);
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    name TEXT NOT NULL,
    hint TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
  );
  CREATE INDEX api_keys_by_app ON api_keys(app_id, id);
  CREATE TABLE service_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hint TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );

  -- Raw usage: the ledger. Kept for audit, statements and rebuilding rollups.
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    key_id TEXT,
    usage_type TEXT NOT NULL,
    request_args_hash TEXT NOT NULL,
    count INTEGER NOT NULL,
    received_at INTEGER NOT NULL
  );

  -- The first answer to each idempotent check, replayed on a repeat.
  CREATE TABLE check_replies (
    group_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (group_id, idempotency_key)
  ) WITHOUT ROWID;
  CREATE INDEX check_replies_by_age ON check_replies(created_at);

  -- Time-bucketed sums per dimension; *_sole columns hold the one value of
  -- the other fields shared by all usage in the row, NULL once it varies.
  ${['quarter', 'hour', 'day'].map((level) => `
  CREATE TABLE rollup_${level} (
    group_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    value TEXT NOT NULL,
    count INTEGER NOT NULL,
    app_id_sole TEXT,
    usage_type_sole TEXT,
    request_args_hash_sole TEXT,
    PRIMARY KEY (group_id, dimension, bucket, value)
  ) WITHOUT ROWID;`).join('\n')}

  -- Events up to this seq are in the rollup tables.
  CREATE TABLE rollup_watermark (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
  INSERT INTO rollup_watermark (id, seq) VALUES (1, 0);
  `,
  `
  -- Ingested events' ids, for deduplication; seq is the event's, so the
  -- window is pruned by seq range as events age.
  CREATE TABLE event_keys (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
  );
  ALTER TABLE apps ADD COLUMN disabled_at INTEGER;
  `,
  `
  -- Prices: the currency, and prices per usage type (JSON); price_per_call
  -- stays the price of every usage type not listed.
  ALTER TABLE plans ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD';
  ALTER TABLE plans ADD COLUMN prices TEXT NOT NULL DEFAULT '[]';
  -- Closed billing statements, written once and never changed: the document
  -- is the statement as it was closed.
  CREATE TABLE statements (
    group_id TEXT NOT NULL,
    period TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    period_end INTEGER NOT NULL,
    closed_at INTEGER NOT NULL,
    currency TEXT NOT NULL,
    total INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (group_id, period)
  ) WITHOUT ROWID;
  `,
  // Usage alerts and the outbox of their webhook deliveries.
  ALERT_TABLES,
  // Dashboard sessions signed out of before they expired.
  ENDED_SESSIONS_TABLE,
  // CloudEvents' dedup keys without NUL (src/ingest/cloudevents.ts, cloudEventDedupKey): `ce:<source>NUL<id>`
  // becomes `ce:<source's length in bytes>:<source><id>`, so that an event sent again after the upgrade is still
  // known, and the keys can move to PostgreSQL (tollgate migrate), whose text cannot hold NUL.
  `
  UPDATE event_keys SET key = 'ce:' || (instr(CAST(key AS BLOB), x'00') - 4) || ':'
    || CAST(substr(CAST(key AS BLOB), 4, instr(CAST(key AS BLOB), x'00') - 4) AS TEXT)
    || CAST(substr(CAST(key AS BLOB), instr(CAST(key AS BLOB), x'00') + 1) AS TEXT)
  WHERE substr(CAST(key AS BLOB), 1, 3) = CAST('ce:' AS BLOB) AND instr(CAST(key AS BLOB), x'00') > 0;
  `,
  // Named limits and overrides of plans, groups and apps, and plans' credits.
  LIMIT_COLUMNS,
  // Prepaid credits: grants, and each group's debt.
  CREDIT_TABLES,
  // Usage per app and usage type, and per key and usage type (src/domain/rollups.ts, RollupDimension), from the
  // events behind the rollup watermark; those past it are rolled up at open, with every dimension.
  backfillUsageTypeRollups('seq <= (SELECT seq FROM rollup_watermark WHERE id = 1)', false),
  // Alert settings' credits_low: when a group's balance counts as low (src/domain/alerts.ts, CreditsLow).
  CREDITS_LOW_COLUMN.sqlite,
];

export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version += 1) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
