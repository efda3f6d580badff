import { DateTime, IANAZone } from 'luxon';

/**
 * Calendar periods in an IANA time zone: the billing month, and the
 * `timespan` periods of usage queries. Period edges are real instants, so a
 * day across a DST change lasts 23 or 25 hours, and an hour in Asia/Kathmandu
 * (+05:45) starts at a quarter past the UTC hour.
 */
export type Timespan = 'hour' | 'day' | 'week' | 'month' | 'year';
export const TIMESPANS: readonly Timespan[] = ['hour', 'day', 'week', 'month', 'year'];

const HOUR_MS = 3_600_000;

/** Whether `zone` is an IANA zone name this runtime knows. */
export function isValidTimeZone(zone: string): boolean {
  return typeof zone === 'string' && zone.length > 0 && IANAZone.isValidZone(zone);
}

/** The zone's UTC offset at the instant, in milliseconds (+05:45 → 20,700,000). */
export function zoneOffsetMs(ms: number, zone: string): number {
  return DateTime.fromMillis(ms, { zone }).offset * 60_000;
}

/**
 * The start of the period of `unit` that contains `ms`, in `zone`.
 * Weeks start on Monday (ISO 8601).
 */
export function startOfPeriod(ms: number, unit: Timespan, zone: string): number {
  if (unit === 'hour') {
    // Computed from the offset at the instant, so the repeated hour at a DST
    // fall-back is two different hours rather than one folded onto the other.
    const local = ms + zoneOffsetMs(ms, zone);
    return ms - mod(local, HOUR_MS);
  }
  return DateTime.fromMillis(ms, { zone }).startOf(unit).toMillis();
}

/** The start of the period after the one starting at `start`. */
export function nextPeriodStart(start: number, unit: Timespan, zone: string): number {
  if (unit === 'hour') return startOfPeriod(start + HOUR_MS, 'hour', zone);
  return DateTime.fromMillis(start, { zone }).plus({ [unit]: 1 }).startOf(unit).toMillis();
}

/** A half-open span of time, [start, end). */
export interface Span {
  start: number;
  end: number;
}

const currentMonths = new Map<string, Readonly<Span>>();

/**
 * The billing month that contains `ms`, in the plan's zone. Every check
 * needs it, and zone arithmetic costs microseconds, so the month last seen
 * per zone is reused while `ms` falls inside it.
 */
export function billingPeriod(ms: number, zone: string): Readonly<Span> {
  const cached = currentMonths.get(zone);
  if (cached !== undefined && ms >= cached.start && ms < cached.end) return cached;
  const start = startOfPeriod(ms, 'month', zone);
  const span = Object.freeze({ start, end: nextPeriodStart(start, 'month', zone) });
  if (currentMonths.size > 1000) currentMonths.clear();
  currentMonths.set(zone, span);
  return span;
}

/**
 * The periods of `unit` that [from, to) touches, each clipped to [from, to).
 * Returns null when there would be more than `maxPeriods` of them.
 */
export function periodsBetween(from: number, to: number, unit: Timespan, zone: string, maxPeriods: number): Span[] | null {
  const spans: Span[] = [];
  let start = startOfPeriod(from, unit, zone);
  while (start < to) {
    const end = nextPeriodStart(start, unit, zone);
    if (spans.length === maxPeriods) return null;
    spans.push({ start: Math.max(start, from), end: Math.min(end, to) });
    start = end;
  }
  return spans;
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}
