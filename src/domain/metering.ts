import type { Span } from './periods.js';
import type { RateState } from './sliding-window.js';

/**
 * The metering model: what a call asks of the limits and what it is
 * answered, and the usage sent after the fact. The engine decides on these
 * (src/engine/metering-engine.ts); the HTTP layer, the gateway and the
 * dashboard read them; no store is needed to know them.
 */

/** -1 means unlimited. */
export interface Limits {
  groupRatePerMinute: number;
  appRatePerMinute: number;
  groupMonthlyQuota: number;
  appMonthlyQuota: number;
}

export interface MeterRequest {
  now: number;
  groupId: string;
  appId: string;
  keyId: string;
  limits: Limits;
  /** The billing period that contains `now`. */
  period: Span;
  /**
   * `record`: rate limits and quotas, and the usage is recorded (the check API).
   * `reserve`: rate limits and quotas consumed as for `record`, but nothing is
   *   written until `settle` says what the call really cost (the gateway, when
   *   the cost is known only from the upstream's answer).
   * `rate_only`: only the per-minute limits, nothing recorded (the usage endpoints).
   */
  mode: 'record' | 'reserve' | 'rate_only';
  usageType: string;
  requestArgsHash: string;
  /** Units, 1 or more. */
  cost: number;
  /** Scoped to the group: the same key from another group is another request. */
  idempotencyKey?: string;
}

export type MeterCode = 'ok' | 'rate_limited' | 'quota_exceeded';

export interface MeterResult {
  allowed: boolean;
  code: MeterCode;
  /** Which limit refused the call: `group` (the plan's) or `app` (the app's own); null when allowed. */
  deniedBy: 'group' | 'app' | null;
  groupUsed: number;
  appUsed: number;
  /** The group's and the app's per-minute windows; null where that limit is unlimited. */
  groupRate: RateState | null;
  appRate: RateState | null;
  /** Milliseconds until a retry can succeed; null when allowed, or when it never can. */
  retryAfterMs: number | null;
  /** Id of the recorded event; null when nothing was recorded. */
  eventId: string | null;
  /** True when this is the stored answer of an earlier call with the same idempotency key. */
  replayed: boolean;
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
