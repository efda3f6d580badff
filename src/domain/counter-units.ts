import { WINDOW_MS, type CounterRef, type SeededWindow } from './limits.js';
import type { Span } from './periods.js';
import { decompose } from './rollup-segments.js';
import { appUsageDimension, keyUsageDimension, type RollupDimension, type RollupStore } from './rollups.js';
import { windowStartAt, type WindowCounter } from './sliding-window.js';

/**
 * The units a counter holds, read from the rollups: what a counter starts
 * from the first time it is needed (a billing period's, or an hour or day
 * window's). Each kind of counter reads the rows that count exactly it:
 *
 * - a group's, every usage type: its apps' rows (`app_id`), as usage queries sum them;
 * - a group's, some usage types: the `usage_type` rows of those types;
 * - an app's, every usage type: its `app_id` row;
 * - an app's, some usage types: its own rows per usage type (`app:<id>`);
 * - a key's: its own rows per usage type (`key:<id>`), which hold calls made
 *   with the key and never ingested events (they carry no key).
 */
export async function unitsFor(rollups: RollupStore, ref: CounterRef, span: Span): Promise<number> {
  const [units] = await unitsForSpans(rollups, ref, [span]);
  return units!;
}

/**
 * A counter's units in a fixed window [windowStart, windowEnd), to seed the
 * previous and current windows of an hour or day limit. The rollups count
 * whole 15-minute buckets, so this is exact when both edges are multiples of
 * 15 minutes (hour and day windows start on UTC hour and day edges). An edge
 * inside a bucket counts that bucket whole, so a window is never counted
 * short.
 */
export function windowUnits(rollups: RollupStore, ref: CounterRef, windowStart: number, windowEnd: number): Promise<number> {
  return unitsFor(rollups, ref, { start: windowStart, end: windowEnd });
}

/**
 * The sliding-window counter of an hour or day limit at `now`, seeded from
 * the rollups: the previous fixed window's units and what the current one
 * holds so far (all it has, up to `now` and any usage stamped later in it),
 * read in one query.
 */
export async function seedWindowCounter(rollups: RollupStore, ref: CounterRef, window: SeededWindow, now: number): Promise<WindowCounter> {
  const { windowStart, spans } = windowSeedSpans(window, now);
  const [previous, current] = await unitsForSpans(rollups, ref, spans);
  return { windowStart, previous: previous!, current: current! };
}

/**
 * What seeding an hour or day window at `now` reads: the fixed window that
 * holds `now` and the one before it, whole. Both start on a UTC hour or day
 * edge, a bucket edge of the rollups, so each is counted exactly.
 */
export function windowSeedSpans(window: SeededWindow, now: number): { windowStart: number; spans: [Span, Span] } {
  const length = WINDOW_MS[window];
  const windowStart = windowStartAt(now, length);
  return { windowStart, spans: [{ start: windowStart - length, end: windowStart }, { start: windowStart, end: windowStart + length }] };
}

/** A counter's units in each span, all read in one query (one trip to a networked store). */
export async function unitsForSpans(rollups: RollupStore, ref: CounterRef, spans: readonly Span[]): Promise<number[]> {
  const { dimension, counts } = rowsOf(ref);
  const perSpan = spans.map((span) => decompose(span));
  const sums = await rollups.sumRollups({ groupId: ref.groupId, dimension, segments: perSpan.flat() });
  let next = 0;
  return perSpan.map((segments) => {
    let units = 0;
    for (const rows of sums.slice(next, (next += segments.length))) {
      for (const row of rows) if (counts(row.value)) units += row.count;
    }
    return units;
  });
}

/** The dimension whose rows count the counter, and which of its values do. */
function rowsOf(ref: CounterRef): { dimension: RollupDimension; counts: (value: string) => boolean } {
  const types = ref.usageTypes === null ? null : new Set(ref.usageTypes);
  const ofTypes = (usageType: string) => types === null || types.has(usageType);
  switch (ref.scope) {
    case 'group':
      return types === null ? { dimension: 'app_id', counts: () => true } : { dimension: 'usage_type', counts: ofTypes };
    case 'app':
      return types === null ? { dimension: 'app_id', counts: (appId) => appId === ref.scopeId } : { dimension: appUsageDimension(ref.scopeId), counts: ofTypes };
    case 'key':
      return { dimension: keyUsageDimension(ref.scopeId), counts: ofTypes };
  }
}
