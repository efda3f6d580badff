import type { Span } from './periods.js';
import { LEVEL_MS, type RollupLevel, type RollupSegment } from './rollups.js';

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
