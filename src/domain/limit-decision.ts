import { SHORTHAND, WINDOW_MS, type SlidingWindow } from './limits.js';
import type { AppliedLimit, LimitState, MeterCode, MeterRequest } from './metering.js';
import { advance, evaluate, latestRetry, weightedCount, windowState, type WindowCounter } from './sliding-window.js';

/**
 * The rules of a decision over many limits, written once: every limiter
 * (in-process, Redis, relaxed) reads its counters, asks `judge` whether the
 * call fits them all, and reports them with `limitStates`. The Redis script
 * mirrors `judge`'s arithmetic; the conformance suite holds them equal.
 */

/** A limit's counter as a call finds it: a sliding window's counts (advanced to `now`), or a billing period's units. */
export type Reading = { kind: 'window'; counter: WindowCounter } | { kind: 'period'; used: number };

export interface Judgement {
  allowed: boolean;
  code: MeterCode;
  /** The limit that refused, by name; null when allowed. */
  deniedBy: string | null;
  /** When the call would fit every limit that refused it; null when allowed, or never. */
  retryAfterMs: number | null;
}

/** The length of a limit's sliding window, or null for a billing period. */
export function windowMs(limit: Pick<AppliedLimit, 'window'>): number | null {
  return limit.window === 'billing_period' ? null : WINDOW_MS[limit.window as SlidingWindow];
}

/**
 * Whether a limit takes the cost of a call of this mode: every limit for a
 * recorded or reserved call; for a `rate_only` touch (the usage
 * endpoints) only the sliding windows over every usage type, the others
 * being read and left as they are.
 */
export function consumes(limit: AppliedLimit, mode: MeterRequest['mode']): boolean {
  return mode !== 'rate_only' || (limit.window !== 'billing_period' && limit.usageTypes === null);
}

/** The credits a call takes: its units at its kind's price; none for a `rate_only` touch. */
export function creditCharge(request: Pick<MeterRequest, 'credits' | 'cost' | 'mode'>): number {
  return request.credits === undefined || request.mode === 'rate_only' ? 0 : request.credits.perUnit * request.cost;
}

/**
 * Whether the call fits every limit it consumes, all-or-nothing. A billing
 * period that refuses makes the code `quota_exceeded` (it is named before a
 * window that refuses too); else the first window that refuses makes it
 * `rate_limited`. The retry waits for every limit that refused.
 */
export function judge(request: Pick<MeterRequest, 'now' | 'cost' | 'mode' | 'period' | 'limits'>, readings: readonly Reading[]): Judgement {
  const { now, cost } = request;
  let quotaDenied: string | null = null;
  let rateDenied: string | null = null;
  const waits: Array<number | null> = [];
  request.limits.forEach((limit, i) => {
    if (limit.units < 0 || !consumes(limit, request.mode)) return;
    const reading = readings[i]!;
    if (reading.kind === 'period') {
      if (reading.used + cost <= limit.units) return;
      quotaDenied ??= limit.name;
      waits.push(request.period.end - now);
    } else {
      const verdict = evaluate(reading.counter, now, windowMs(limit)!, limit.units, cost);
      if (verdict.allowed) return;
      rateDenied ??= limit.name;
      waits.push(verdict.retryAfterMs);
    }
  });
  if (quotaDenied === null && rateDenied === null) return { allowed: true, code: 'ok', deniedBy: null, retryAfterMs: null };
  return {
    allowed: false,
    code: quotaDenied !== null ? 'quota_exceeded' : 'rate_limited',
    deniedBy: quotaDenied ?? rateDenied,
    retryAfterMs: latestRetry(waits),
  };
}

/** Every limit's state as its counter stands (after the call's cost, when it was admitted). */
export function limitStates(request: Pick<MeterRequest, 'now' | 'period' | 'limits'>, readings: readonly Reading[]): LimitState[] {
  return request.limits.map((limit, i) => limitState(limit, readings[i]!, request.now, request.period.end));
}

export function limitState(limit: Pick<AppliedLimit, 'name' | 'window' | 'scope' | 'units'>, reading: Reading, now: number, periodEnd: number): LimitState {
  const base = { name: limit.name, window: limit.window, scope: limit.scope, units: limit.units };
  if (reading.kind === 'period') {
    const remaining = limit.units < 0 ? -1 : Math.max(0, limit.units - reading.used);
    const untilEnd = Math.max(0, periodEnd - now);
    return { ...base, used: reading.used, remaining, resetMs: untilEnd, nextUnitMs: reading.used > 0 ? untilEnd : null };
  }
  const ms = windowMs(limit)!;
  const state = windowState(reading.counter, now, ms, limit.units);
  return {
    ...base,
    used: Math.max(0, Math.ceil(weightedCount(reading.counter, now, ms) - 1e-9)),
    remaining: state.remaining, resetMs: state.resetMs, nextUnitMs: state.nextUnitMs,
    counter: { windowStart: reading.counter.windowStart, previous: reading.counter.previous, current: reading.counter.current },
  };
}

/**
 * Identifies a limit's counter: its window, name, usage types and whose
 * it is. A limit whose usage types change counts in a new counter, seeded
 * from the rollups. (A billing period's counter is further kept per period.)
 */
export function counterId(limit: AppliedLimit): string {
  let id = counterIds.get(limit);
  if (id === undefined) {
    id = `${limit.window}:${limit.name}:${limit.usageTypes === null ? '*' : limit.usageTypes.join(',')}:${limit.scope}:${limit.scopeId}`;
    counterIds.set(limit, id);
  }
  return id;
}

/** Applied limits are kept per key (src/metering/limits.ts): their ids are worked out once. */
const counterIds = new WeakMap<AppliedLimit, string>();

/**
 * The period counters every call and event counts toward whatever the plan
 * says: the group's and the app's units over every usage type (the
 * shorthand `month` and `app-month`, unlimited here: counters identify by
 * name, kinds and scope, never by units).
 */
export function periodTotals(groupId: string, appId: string): [AppliedLimit, AppliedLimit] {
  return [
    { name: SHORTHAND.groupMonth, usageTypes: null, window: 'billing_period', units: -1, scope: 'group', scopeId: groupId },
    { name: SHORTHAND.appMonth, usageTypes: null, window: 'billing_period', units: -1, scope: 'app', scopeId: appId },
  ];
}

/**
 * A decision's limits as they stand once `delta` more units were taken (or
 * given back, when negative) at `now`: as the limiters adjust them, on a
 * window's current count or the period's units, never below zero.
 */
export function statesAfter(states: readonly LimitState[], delta: number, now: number, periodEnd: number): LimitState[] {
  return states.map((state) => {
    const ms = windowMs(state);
    const reading: Reading = ms === null || state.counter === undefined
      ? { kind: 'period', used: Math.max(0, state.used + delta) }
      : { kind: 'window', counter: advance({ ...state.counter, current: Math.max(0, state.counter.current + delta) }, now, ms) };
    return limitState(state, reading, now, periodEnd);
  });
}
