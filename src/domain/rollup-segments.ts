import type { CounterRef } from './limits.js';
import type { Span } from './periods.js';
import { LEVEL_MS, type RollupLevel, type RollupSegment, type RollupStore } from './rollups.js';

const QUARTER_MS = LEVEL_MS.quarter;

/** `ms` moved down to a bucket edge (15 minutes, the finest rollup). */
export function floorToQuarter(ms: number): number {
  return ms - (((ms % QUARTER_MS) + QUARTER_MS) % QUARTER_MS);
}

/** `ms` moved up to a bucket edge. */
export function ceilToQuarter(ms: number): number {
  const floor = floorToQuarter(ms);
  return floor === ms ? ms : floor + QUARTER_MS;
}

/**
 * Splits a span whose edges are 15-minute edges into the fewest runs of whole
 * buckets, largest buckets first: quarters up to the next hour edge, hours up
 * to the next UTC day edge, then whole days, and the same down at the end.
 * A month in Asia/Kathmandu becomes a few quarters, some hours and ~30 days.
 *
 * @example
 * decompose({ start: Date.parse('2026-01-01T18:15Z'), end: Date.parse('2026-01-03T00:00Z') })
 * // quarters 18:15-19:00, hours 19:00-24:00, day Jan 2
 */
export function decompose(span: Span): RollupSegment[] {
  const start = floorToQuarter(span.start);
  const end = ceilToQuarter(span.end);
  const segments: RollupSegment[] = [];
  let t = start;
  while (t < end) {
    const level = largestLevelAt(t, end);
    const size = LEVEL_MS[level];
    const last = segments[segments.length - 1];
    if (last !== undefined && last.level === level && last.end === t) last.end = t + size;
    else segments.push({ level, start: t, end: t + size });
    t += size;
  }
  return segments;
}

function largestLevelAt(t: number, end: number): RollupLevel {
  for (const level of ['day', 'hour'] as const) {
    const size = LEVEL_MS[level];
    if (t % size === 0 && t + size <= end) return level;
  }
  return 'quarter';
}

/**
 * Units a group used in a period (or one of its apps, when `appId` is
 * given), summed from the app_id rollups like any usage query: what a quota
 * counter is seeded with.
 */
export async function unitsInPeriod(rollups: RollupStore, groupId: string, appId: string | null, period: Span): Promise<number> {
  const sums = await rollups.sumRollups({ groupId, dimension: 'app_id', segments: decompose(period) });
  return sums.flat().filter((row) => appId === null || row.value === appId).reduce((total, row) => total + row.count, 0);
}

/**
 * The units a counter counts in a span, from the rollups: the group's or
 * one app's (app_id rows), or the group's of some usage types (usage_type rows).
 */
export async function unitsFor(rollups: RollupStore, ref: CounterRef, span: Span): Promise<number> {
  const types = ref.usageTypes;
  if (ref.scope === 'group' && types !== null) {
    const sums = await rollups.sumRollups({ groupId: ref.groupId, dimension: 'usage_type', segments: decompose(span) });
    return sums.flat().filter((row) => types.includes(row.value)).reduce((total, row) => total + row.count, 0);
  }
  if (ref.scope === 'key' || types !== null) throw new Error(`usage of ${ref.scope} "${ref.scopeId}" by usage type cannot be read from the rollups`);
  return unitsInPeriod(rollups, ref.groupId, ref.scope === 'group' ? null : ref.scopeId, span);
}
