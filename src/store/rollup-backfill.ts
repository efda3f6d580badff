import { LEVEL_MS, ROLLUP_LEVELS } from '../domain/rollups.js';

/**
 * The schema migration (SQLite and PostgreSQL alike) that fills the rollup
 * dimensions of one app's and one key's usage per usage type
 * (`RollupDimension`) from the events already stored, so that counters of
 * usage types and keys are seeded exactly in the period under way. It writes
 * what `RollupBuffer` would have written for those events: the same buckets,
 * the same sole values. Rows of those dimensions found already (a file whose
 * version was set back) are replaced, never added to.
 *
 * @param events which events to roll up (SQLite: those behind the rollup
 *   watermark; the rest are rolled up at open, with every dimension).
 * @param shard PostgreSQL's shard column (rows written to shard 0).
 */
export function backfillUsageTypeRollups(events: string, shard: boolean): string {
  const families = [
    { prefix: 'app:', id: 'app_id', where: events },
    // Ingested events carry no key: they count toward no key's rows.
    { prefix: 'key:', id: 'key_id', where: `(${events}) AND key_id IS NOT NULL` },
  ];
  return ROLLUP_LEVELS.flatMap((level) => [
    `DELETE FROM rollup_${level} WHERE ${families.map(({ prefix }) => `dimension LIKE '${prefix}%'`).join(' OR ')};`,
    ...families.map(({ prefix, id, where }) => {
      const size = LEVEL_MS[level];
      return `INSERT INTO rollup_${level}
      (group_id, dimension, bucket, value, ${shard ? 'shard, ' : ''}count, app_id_sole, usage_type_sole, request_args_hash_sole)
    SELECT group_id, '${prefix}' || ${id}, ts - (((ts % ${size}) + ${size}) % ${size}) AS b, usage_type, ${shard ? '0, ' : ''}SUM(count),
      ${sole('app_id')}, usage_type, ${sole('request_args_hash')}
    FROM events WHERE ${where}
    GROUP BY group_id, ${id}, b, usage_type;`;
    }),
  ]).join('\n');
}

/** The one value of a column in the group, NULL when it varies (as `foldSole`). */
function sole(column: string): string {
  return `CASE WHEN MIN(${column}) = MAX(${column}) THEN MIN(${column}) END`;
}
