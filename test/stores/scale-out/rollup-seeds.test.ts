import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { CounterRef } from '../../../src/domain/limits.js';
import { billingPeriod } from '../../../src/domain/periods.js';
import type { PendingWrite } from '../../../src/engine/pending-write.js';
import { PG_TYPES } from '../../../src/store/postgres/pg-catalog.js';
import { PgUsage } from '../../../src/store/postgres/pg-usage.js';
import { ensurePartitions, migrate, MIGRATIONS } from '../../../src/store/postgres/schema.js';
import { backfillUsageTypeRollups } from '../../../src/store/rollup-backfill.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

// Counters seeded from PostgreSQL's rollups, in one snapshot; and the rollups of one app's and one key's usage per
// usage type, filled from the events already stored by the schema migration that brought them.

const T0 = Date.parse('2026-03-15T12:00:00Z');
let server: TestPostgres;
let pool: pg.Pool;
let usage: PgUsage;

before(async () => {
  server = await startPostgres({ durable: false });
  pool = new pg.Pool({ connectionString: server.url, types: PG_TYPES });
  await migrate(pool);
  await ensurePartitions(pool, T0);
  usage = new PgUsage(pool);
  const write = (keyId: string | null, appId: string, usageType: string, count: number, ts: number, requestArgsHash = ''): PendingWrite =>
    ({ ts, groupId: 'g', appId, keyId, usageType, requestArgsHash, count });
  // Batches of their own: each transaction writes one shard of a row, so the rows spread over shards.
  for (const batch of [
    [write('k1', 'a1', 'image', 2, T0, 'x'), write('k1', 'a1', 'image', 3, T0 + 60_000, 'y')],
    [write('k1', 'a1', 'pdf', 5, T0 + 20 * 60_000), write('k1', 'a1', 'image', 1, T0 + 2 * 60_000, 'x')],
    [write('k2', 'a1', 'image', 7, T0 + 3 * 3_600_000), write('k3', 'a2', 'pdf', 11, T0 + 86_400_000)],
    // Ingested events: no key.
    [write(null, 'a1', 'image', 13, T0 + 5 * 60_000), write(null, 'a2', 'audio', 17, T0 + 2 * 86_400_000)],
    [write('k1', 'a1', 'image', 19, T0 + 60_000, 'x')],
  ]) await usage.write(batch, T0);
});
after(async () => {
  await pool?.end();
  await server?.stop();
});

test('counterSeed: each kind of counter exactly, with the snapshot it was read in', async () => {
  const ref = (scope: CounterRef['scope'], scopeId: string, usageTypes: string[] | null): CounterRef => ({ groupId: 'g', scope, scopeId, usageTypes });
  const march = billingPeriod(T0, 'UTC');
  const cases: Array<[CounterRef, number]> = [
    [ref('group', 'g', null), 2 + 3 + 5 + 1 + 7 + 11 + 13 + 17 + 19],
    [ref('group', 'g', ['pdf', 'audio']), 5 + 11 + 17],
    [ref('app', 'a1', null), 2 + 3 + 5 + 1 + 7 + 13 + 19],
    [ref('app', 'a1', ['image']), 2 + 3 + 1 + 7 + 13 + 19],
    [ref('app', 'a2', ['audio']), 17],
    [ref('key', 'k1', null), 2 + 3 + 5 + 1 + 19],
    [ref('key', 'k1', ['image']), 2 + 3 + 1 + 19],
    [ref('key', 'k3', ['image']), 0],
  ];
  for (const [counter, units] of cases) {
    const seed = await usage.counterSeed(counter, march);
    assert.equal(seed.units, units, `${counter.scope} ${counter.scopeId} ${counter.usageTypes}`);
    assert.match(seed.snapshot ?? '', /^\d+:\d+:/);
  }
  // An hour window: the hour of T0.
  assert.equal((await usage.counterSeed(ref('key', 'k1', null), { start: T0, end: T0 + 3_600_000 })).units, 2 + 3 + 5 + 1 + 19);
});

/** The rows of the new dimensions, summed over their shards as every query sums them. */
async function newRows(): Promise<unknown[]> {
  const rows: unknown[] = [];
  for (const level of ['quarter', 'hour', 'day']) {
    const sole = (f: string) => `CASE WHEN COUNT(${f}_sole) = COUNT(*) AND MIN(${f}_sole) = MAX(${f}_sole) THEN MIN(${f}_sole) END AS ${f}_sole`;
    const { rows: found } = await pool.query(`SELECT '${level}' AS level, group_id, dimension, bucket, value, SUM(count)::bigint AS count,
        ${['app_id', 'usage_type', 'request_args_hash'].map(sole).join(', ')}
      FROM rollup_${level} WHERE dimension LIKE 'app:%' OR dimension LIKE 'key:%'
      GROUP BY group_id, dimension, bucket, value ORDER BY group_id, dimension COLLATE "C", bucket, value COLLATE "C"`);
    rows.push(...found);
  }
  return rows;
}

test('the migration writes the rows the writer wrote: same buckets, counts and sole values', async () => {
  const written = await newRows();
  assert.ok(written.length > 20, `${written.length} rows`);
  // Back to the version before: the rows gone, the migration to apply again.
  for (const level of ['quarter', 'hour', 'day']) await pool.query(`DELETE FROM rollup_${level} WHERE dimension LIKE 'app:%' OR dimension LIKE 'key:%'`);
  // The migrations after the backfill may run again (IF NOT EXISTS).
  const backfill = MIGRATIONS.indexOf(backfillUsageTypeRollups('TRUE', true));
  assert.ok(backfill > 0);
  await pool.query('UPDATE schema_version SET version = $1', [backfill]);
  assert.deepEqual(await newRows(), []);
  assert.equal(await migrate(pool), backfill);
  assert.deepEqual(await newRows(), written);
});
