import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { ensurePartitions, migrate, MIGRATIONS } from '../../../src/store/postgres/schema.js';
import { serverMissing } from '../../helpers/free-port.js';
import { postgresBinaries, startPostgres, type TestPostgres } from '../../helpers/postgres.js';

let server: TestPostgres | null = null;
before(async () => {
  if (postgresBinaries() !== null) server = await startPostgres();
});
after(async () => server?.stop());

test('four instances migrating at once: one applies each migration, all end on the latest version', { timeout: 60_000 }, async (t) => {
  if (server === null) return serverMissing(t, 'PostgreSQL server binaries not installed');
  const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: server!.url, max: 2 }));
  try {
    const found = await Promise.all(pools.map((pool) => migrate(pool)));
    assert.deepEqual([...found].sort(), [0, MIGRATIONS.length, MIGRATIONS.length, MIGRATIONS.length], 'exactly one instance found an empty database');
    const { rows } = await pools[0]!.query<{ version: number }>('SELECT version FROM schema_version');
    assert.deepEqual(rows, [{ version: MIGRATIONS.length }]);
    assert.equal(await migrate(pools[1]!), MIGRATIONS.length, 'a later start has nothing to do');
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
  }
});

test('events are partitioned by month; rows outside the partitions land in the default one', { timeout: 60_000 }, async (t) => {
  if (server === null) return serverMissing(t, 'PostgreSQL server binaries not installed');
  const pool = new pg.Pool({ connectionString: server.url });
  try {
    await migrate(pool);
    const now = Date.parse('2026-11-21T12:00:00Z');
    assert.deepEqual(await ensurePartitions(pool, now), ['events_2026_11', 'events_2026_12', 'events_2027_01']);
    assert.deepEqual(await ensurePartitions(pool, now), [], 'idempotent');
    const insert = 'INSERT INTO events (ts, group_id, app_id, usage_type, request_args_hash, count, received_at) VALUES ($1, $2, $3, $4, $5, $6, $1) RETURNING tableoid::regclass::text AS part';
    const inNovember = await pool.query<{ part: string }>(insert, [Date.parse('2026-11-30T23:59:59Z'), 'g', 'a', 'image', '', 1]);
    const inJanuary = await pool.query<{ part: string }>(insert, [Date.parse('2027-01-01T00:00:00Z'), 'g', 'a', 'image', '', 1]);
    const longAgo = await pool.query<{ part: string }>(insert, [Date.parse('2020-05-05T00:00:00Z'), 'g', 'a', 'image', '', 1]);
    assert.deepEqual([inNovember.rows[0]!.part, inJanuary.rows[0]!.part, longAgo.rows[0]!.part], ['events_2026_11', 'events_2027_01', 'events_default']);
  } finally {
    await pool.end();
  }
});
