import type { UsageDimension } from './types.js';

/**
 * Rollups are kept at three bucket sizes. Any span whose edges are multiples
 * of 15 minutes (every period edge in every current time zone, +05:45
 * included) is a sum of whole buckets: quarters at its ragged ends, hours, and
 * whole UTC days in the middle.
 */
export type RollupLevel = 'quarter' | 'hour' | 'day';
export const ROLLUP_LEVELS: readonly RollupLevel[] = ['day', 'hour', 'quarter'];
export const LEVEL_MS: Readonly<Record<RollupLevel, number>> = { quarter: 900_000, hour: 3_600_000, day: 86_400_000 };

/** A run of whole buckets of one level: the buckets starting in [start, end). */
export interface RollupSegment {
  level: RollupLevel;
  start: number;
  end: number;
}

/**
 * Beside the public dimensions (what usage queries group by), two internal
 * families that let every counter be seeded: the usage of one app per usage
 * type (dimension `app:<app id>`) and of one key per usage type (dimension
 * `key:<key id>`; only calls made with a key, never ingested events). Their
 * values are usage types. The app or key sits in the dimension rather than
 * in the value so that a seed reads only that app's or key's rows, by the
 * rollup tables' primary key prefix (group, dimension, bucket).
 */
export type RollupDimension = UsageDimension | `app:${string}` | `key:${string}`;

/** The dimension of one app's usage per usage type. */
export function appUsageDimension(appId: string): RollupDimension {
  return `app:${appId}`;
}

/** The dimension of one key's usage per usage type. */
export function keyUsageDimension(keyId: string): RollupDimension {
  return `key:${keyId}`;
}

export interface RollupQuery {
  groupId: string;
  dimension: RollupDimension;
  /** Each segment is summed on its own. */
  segments: readonly RollupSegment[];
}

/** The usage of one value of the queried dimension, summed over a segment's buckets. */
export interface RollupSum {
  value: string;
  count: number;
  /** The one value of each other field shared by all usage summed; null when it varies. */
  appId: string | null;
  usageType: string | null;
  requestArgsHash: string | null;
}

export interface RollupStore {
  /**
   * Sums per value for each segment, in the order given (one list per
   * segment), reflecting every acknowledged call and event. A batch of
   * segments is one call so that a networked store can answer in one trip.
   */
  sumRollups(query: RollupQuery): Promise<RollupSum[][]>;
}
