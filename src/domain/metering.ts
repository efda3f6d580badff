import type { CallCredits, CreditMovement } from './credits.js';
import type { LimitScope, LimitSpec, LimitWindow } from './limits.js';
import type { Span } from './periods.js';
import type { WindowCounter } from './sliding-window.js';

/**
 * The metering model: what a call asks of the limits and what it is
 * answered, and the usage sent after the fact. The engine decides on these
 * (src/engine/metering-engine.ts); the HTTP layer, the gateway and the
 * dashboard read them; no store is needed to know them.
 */

/**
 * A limit as it binds one call: its spec, and whose counter it is (the id
 * of the group, the app or the key its scope names). Units of -1: the
 * counter is kept (the group's and the app's units in the period, which the
 * answers report) but never refuses.
 */
export interface AppliedLimit extends LimitSpec {
  scopeId: string;
}

export interface MeterRequest {
  now: number;
  groupId: string;
  appId: string;
  keyId: string;
  /**
   * The limits that apply to this call (their usage types hold its kind),
   * in the order a refusal is reported in: the first that refuses is named.
   */
  limits: readonly AppliedLimit[];
  /** The billing period that contains `now`. */
  period: Span;
  /**
   * `record`: every limit applies, and the usage is recorded (the check API).
   * `reserve`: as `record`, but nothing is written until `settle` says what
   *   the call really cost (the gateway, when the cost is known only from the
   *   upstream's answer).
   * `rate_only`: only the sliding windows, nothing recorded (the usage endpoints).
   */
  mode: 'record' | 'reserve' | 'rate_only';
  usageType: string;
  requestArgsHash: string;
  /** Units, 1 or more. */
  cost: number;
  /** Scoped to the group: the same key from another group is another request. */
  idempotencyKey?: string;
  /** What the call costs in credits, when its plan uses credits; absent: none. */
  credits?: CallCredits;
}

export type MeterCode = 'ok' | 'rate_limited' | 'quota_exceeded' | 'insufficient_credits';

/** The name a refusal for want of credits is reported under (no limit may take it). */
export const CREDITS = 'credits';

/** One limit after a decision: what it allows and what is left of it. */
export interface LimitState {
  name: string;
  window: LimitWindow;
  scope: LimitScope;
  /** -1: kept, never refusing. */
  units: number;
  /** Units counted in the window (a sliding window's weighted count, rounded up) or the billing period. */
  used: number;
  remaining: number;
  /** Milliseconds until the window holds nothing counted; for a billing period, until it ends. */
  resetMs: number;
  /** Milliseconds until one unit more than `remaining` can be spent; null when nothing is used. */
  nextUnitMs: number | null;
  /** A sliding window's counts at the decision, from which its state can be worked out again after a change (a gateway call settled). */
  counter?: WindowCounter;
}

export interface MeterResult {
  allowed: boolean;
  code: MeterCode;
  /** The name of the limit that refused the call; null when allowed. */
  deniedBy: string | null;
  /** Every limit that applied, in the request's order. */
  limits: LimitState[];
  /** Milliseconds until a retry can succeed; null when allowed, or when it never can. */
  retryAfterMs: number | null;
  /** Id of the recorded event; null when nothing was recorded. */
  eventId: string | null;
  /** True when this is the stored answer of an earlier call with the same idempotency key. */
  replayed: boolean;
  /** What the call took from its group's credits and the balance after; null when its plan uses none. */
  credits: { charged: number; balance: number } | null;
  /**
   * How the charge was spread over the grants, for the durable writer to
   * apply with the call's event. Between a limiter and the engine only: the
   * engine takes it off before the result goes anywhere.
   */
  movements?: CreditMovement[];
}

/** Usage that was already served, sent later (event ingest). */
export interface IngestEvent {
  /** Identifies the event for deduplication (the sender's id, scoped as the API defines). */
  dedupKey: string;
  ts: number;
  groupId: string;
  appId: string;
  usageType: string;
  requestArgsHash: string;
  count: number;
}

export type IngestOutcome = 'accepted' | 'duplicate';

/** A limit's state in a decision, by name; undefined when no such limit applied. */
export function stateOf(result: Pick<MeterResult, 'limits'>, name: string): LimitState | undefined {
  return result.limits.find((state) => state.name === name);
}

/**
 * An answer remembered under an idempotency key, as it was stored, made a
 * replay: answers stored before limits had names carried the group's and
 * the app's counters in fields of their own, read here as the shorthand
 * limits they were.
 */
export function replayOf(stored: unknown): MeterResult {
  const result = stored as MeterResult & Partial<LegacyResult>;
  if (Array.isArray(result.limits)) return { ...result, credits: result.credits ?? null, replayed: true };
  const { groupUsed = 0, appUsed = 0, groupRate = null, appRate = null, deniedBy, ...rest } = result;
  const minute = (name: string, scope: 'group' | 'app', rate: LegacyRate | null): LimitState[] => (rate === null ? [] : [{
    name, window: 'minute', scope, units: rate.limit, used: Math.max(0, rate.limit - rate.remaining), remaining: rate.remaining,
    resetMs: rate.resetMs, nextUnitMs: rate.nextUnitMs ?? null, counter: rate.window,
  }]);
  const month = (name: string, scope: 'group' | 'app', used: number): LimitState => ({ name, window: 'billing_period', scope, units: -1, used, remaining: -1, resetMs: 0, nextUnitMs: null });
  const code = result.code;
  const denied = deniedBy === 'group' || deniedBy === 'app'
    ? `${deniedBy === 'app' ? 'app-' : ''}${code === 'quota_exceeded' ? 'month' : 'minute'}` : deniedBy ?? null;
  return {
    ...rest, deniedBy: denied, replayed: true, credits: null,
    limits: [...minute('minute', 'group', groupRate), ...minute('app-minute', 'app', appRate), month('month', 'group', groupUsed), month('app-month', 'app', appUsed)],
  };
}

interface LegacyRate { limit: number; remaining: number; resetMs: number; nextUnitMs?: number | null; window: WindowCounter }
interface LegacyResult { groupUsed: number; appUsed: number; groupRate: LegacyRate | null; appRate: LegacyRate | null }
