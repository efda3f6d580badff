/**
 * Named limits: what a plan sells per usage type, and what a customer's own
 * deal changes. A plan (and, on top of it, a group or an app) carries a list
 * of them; the shorthand `monthly_quota` and `rate_limit_per_minute` are
 * limits too, under the reserved names below. How a key's limits are
 * worked out from its plan, group and app: src/metering/limits.ts.
 */

/** Sliding windows (no double burst at an edge) and the plan's billing period. */
export const LIMIT_WINDOWS = ['second', 'minute', 'hour', 'day', 'billing_period'] as const;
export type LimitWindow = (typeof LIMIT_WINDOWS)[number];
export type SlidingWindow = Exclude<LimitWindow, 'billing_period'>;

export const WINDOW_MS: Readonly<Record<SlidingWindow, number>> = {
  second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000,
};

/**
 * The sliding windows whose counters are seeded from the rollups the first
 * time they are needed (after a restart, or when Redis lost them), as a
 * billing period's are, and which ingested events count toward: an hour's
 * or a day's use is too much to forgive. A `second` or `minute` window
 * starts empty instead: a restart forgives at most one window of units, and
 * seeding it would cost a rollup query for a window that is over in moments.
 * Hour and day windows start on UTC hour and day edges, which are 15-minute
 * bucket edges, so the rollups count them exactly.
 */
export const SEEDED_WINDOWS = ['hour', 'day'] as const;
export type SeededWindow = (typeof SEEDED_WINDOWS)[number];

export function isSeededWindow(window: LimitWindow): window is SeededWindow {
  return (SEEDED_WINDOWS as readonly LimitWindow[]).includes(window);
}

/** Whose counter: the group's (shared by its apps and keys), each app's, or each key's. */
export const LIMIT_SCOPES = ['group', 'app', 'key'] as const;
export type LimitScope = (typeof LIMIT_SCOPES)[number];

/** A named limit as a plan, group or app declares it. */
export interface LimitSpec {
  /** Unique among the limits of a plan (and of what a group or app adds). */
  name: string;
  /** The usage types it counts; null: all of them. */
  usageTypes: string[] | null;
  window: LimitWindow;
  /** Units per window, 0 or more. */
  units: number;
  scope: LimitScope;
}

/** A customer's own deal: new units per limit name; null lifts the limit for them. */
export type LimitOverrides = Record<string, number | null>;

/**
 * The names the shorthand fields take as limits: the plan's
 * `rate_limit_per_minute` and `monthly_quota` (group scope, every usage
 * type), and an app's own. They are the RateLimit header policy names
 * clients already read, and a plan's `limits` cannot use them.
 */
export const SHORTHAND = {
  groupMinute: 'minute',
  groupMonth: 'month',
  appMinute: 'app-minute',
  appMonth: 'app-month',
} as const;
/** Whether a limit is a shorthand monthly quota (the group's or an app's), which is kept even when unlimited and alerts as the seed's quota does. */
export function isShorthandMonth(name: string): boolean {
  return name === SHORTHAND.groupMonth || name === SHORTHAND.appMonth;
}

/** `credits` names a refusal for want of credits. */
export const RESERVED_LIMIT_NAMES: readonly string[] = [...Object.values(SHORTHAND), 'credits'];

/**
 * What a billing-period, hour or day counter counts, for seeding it from the rollups:
 * the usage of one group, or of one of its apps or keys, of some usage types
 * (null: all), in a span.
 */
export interface CounterRef {
  groupId: string;
  scope: LimitScope;
  /** The group's, the app's or the key's id. */
  scopeId: string;
  usageTypes: readonly string[] | null;
}
