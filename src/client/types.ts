/**
 * The SDK's public shapes for metering and usage: the wire's snake_case
 * fields in camelCase, values unchanged (times stay ISO 8601 strings, -1
 * still means unlimited).
 */

/** A customer's credentials, in either style of the usage APIs. */
export type Credentials = { key: string } | { appId: string; appKey: string };

/** One call to meter with `check`. */
export type CheckInput = Credentials & {
  /** The kind of call: `image`, `pdf`… (letters, digits, `._:-`, up to 64). */
  usageType: string;
  /** Units the call consumes; default 1. */
  cost?: number;
  /** The call's arguments; Tollgate stores their hash (`requestArgsHash`). */
  requestArgs?: Record<string, unknown>;
  /** A retry with the same key gets the first answer (`replayed: true`) and is counted once. */
  idempotencyKey?: string;
};

export type CheckCode = 'ok' | 'rate_limited' | 'quota_exceeded' | 'unauthorized';

/**
 * The `RateLimit-Policy`, `RateLimit` and `Retry-After` headers of a check
 * answer, by lower-case name (a type, not an interface, so that it passes as
 * any `Record<string, string | undefined>` of headers).
 */
export type RateLimitHeaders = {
  'ratelimit-policy'?: string;
  ratelimit?: string;
  'retry-after'?: string;
};

/** The answer to `POST /v1/check`. */
export interface CheckResult {
  allowed: boolean;
  code: CheckCode;
  /** Which limit refused the call and when to retry, in words; `Allowed.` otherwise. */
  message: string;
  groupId: string | null;
  appId: string | null;
  keyId: string | null;
  /** The group's units in the current billing period. */
  monthlyUsed: number | null;
  /** The group's plan quota; -1: unlimited. */
  monthlyQuota: number | null;
  /** The per-minute window closest to refusing; `reset` in seconds. */
  rateLimit: { limit: number; remaining: number; reset: number } | null;
  /** The app's own usage and limits (-1: none). */
  app: { monthlyUsed: number; monthlyQuota: number; rateLimitPerMinute: number } | null;
  period: { fromDate: string; toDate: string } | null;
  /** Seconds until a retry can succeed; null when allowed, or when it never can. */
  retryAfter: number | null;
  requestArgsHash: string | null;
  /** True when this is the stored answer to an earlier call with the same idempotency key. */
  replayed: boolean;
  /** The rate-limit headers of the answer, ready to pass on to the customer. */
  headers: RateLimitHeaders;
}

/** The answer to `GET /v1/usage`. */
export interface CurrentUsage {
  monthlyUsed: number;
  /** -1: no monthly quota. */
  monthlyQuota: number;
  /** -1: no per-minute limit. */
  rateLimitPerMinute: number;
  periodStart: string;
  periodEnd: string;
}

export type UsageDimension = 'usage_type' | 'request_args_hash' | 'app_id';
export type Timespan = 'hour' | 'day' | 'week' | 'month' | 'year';

/** The parameters of `GET /v3/ocr-usage`; every one is optional. */
export interface UsageQuery {
  /** Included; default: the start of the current billing month. */
  from?: Date | string;
  /** Excluded; default: now. */
  to?: Date | string;
  groupBy?: UsageDimension;
  timespan?: Timespan;
  /** IANA zone the periods are aligned to; default: the plan's. */
  tz?: string;
}

/** One period and value of `groupBy`; a field is `""` when the units counted in it differ there. */
export interface UsageRecord {
  fromDate: string;
  appId: string;
  groupId: string;
  usageType: string;
  requestArgsHash: string;
  count: number;
}

/** Usage that was already served, for `POST /v1/events`. */
export interface UsageEvent {
  /** Unique per event: Tollgate counts an id once. The SDK assigns a random one when absent. */
  id?: string;
  appId: string;
  usageType: string;
  /** Units; default 1. */
  count?: number;
  /** When the usage happened; default: when Tollgate receives it. */
  timestamp?: Date | string;
  requestArgs?: Record<string, unknown>;
  /** SHA-1 hex of the canonical arguments, when the arguments themselves are not sent. */
  requestArgsHash?: string;
}

/** An event Tollgate refused, and why; the rest of its batch is not affected. */
export interface EventRejection {
  /** Position in the batch, from 0. */
  index: number;
  id: string | null;
  error: string;
  message: string;
}

/** The answer to `POST /v1/events`. */
export interface IngestReport {
  accepted: number;
  /** Events whose id was seen before: counted once, not again. */
  duplicates: number;
  rejected: EventRejection[];
}
