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

export interface RollupQuery {
  groupId: string;
  dimension: UsageDimension;
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
