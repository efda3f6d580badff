import type { Static } from 'typebox';
import type { CheckAnswerSchema, CheckBody } from '../contract/check.js';
import type { EventSchema, IngestAnswer } from '../contract/events.js';
import type { CurrentUsageAnswer, UsageQueryString, UsageRecordSchema } from '../contract/usage.js';
import type { Camel } from './wire.js';

/**
 * The SDK's public shapes for metering and usage, derived from the API's
 * schemas (src/contract/): the wire's snake_case fields in camelCase, values
 * unchanged (times stay ISO 8601 strings, -1 still means unlimited). Type
 * imports only: loading the SDK does not load TypeBox.
 */

/** A customer's credentials, in either style of the usage APIs. */
export type Credentials = { key: string } | { appId: string; appKey: string };

/** One call to meter with `check`: the body of `POST /v1/check`, the credentials in either style. */
export type CheckInput = Credentials & Camel<Omit<Static<typeof CheckBody>, 'key' | 'app_id' | 'app_key' | 'request_args'>> & {
  /** The call's arguments; Tollgate stores their hash (`requestArgsHash`). */
  requestArgs?: Record<string, unknown>;
};

export type CheckCode = CheckResult['code'];

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

/**
 * The answer to `POST /v1/check` (src/contract/check.ts): the verdict, which
 * limit refused the call and when to retry (`message`, `retryAfter` in
 * seconds), the group's and the app's usage and limits (-1: unlimited or
 * none), and the per-minute window closest to refusing.
 */
export type CheckResult = Camel<Static<typeof CheckAnswerSchema>> & {
  /** The rate-limit headers of the answer, ready to pass on to the customer. */
  headers: RateLimitHeaders;
};

/** The answer to `GET /v1/usage`: units this billing period, the plan's limits (-1: none), and the charges so far. */
export type CurrentUsage = Camel<Static<typeof CurrentUsageAnswer>>;

/** What each usage record counts: `usage_type`, `request_args_hash` or `app_id`. */
export type UsageDimension = NonNullable<Static<typeof UsageQueryString>['group_by']>;
/** The length of each usage record's period: `hour` to `year`. */
export type Timespan = NonNullable<Static<typeof UsageQueryString>['timespan']>;

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
export type UsageRecord = Camel<Static<typeof UsageRecordSchema>>;

/** Usage that was already served, for `POST /v1/events`: a Tollgate event, with an id assigned when absent. */
export type UsageEvent = Camel<Omit<Static<typeof EventSchema>, 'id' | 'timestamp' | 'request_args'>> & {
  /** Unique per event: Tollgate counts an id once. The SDK assigns a random one when absent. */
  id?: string;
  /** When the usage happened; default: when Tollgate receives it. */
  timestamp?: Date | string;
  requestArgs?: Record<string, unknown>;
};

/** The answer to `POST /v1/events`: `duplicates` were seen before (counted once), `rejected` lists the refused events by index. */
export type IngestReport = Camel<Static<typeof IngestAnswer>>;

/** An event Tollgate refused, and why; the rest of its batch is not affected. */
export type EventRejection = IngestReport['rejected'][number];
