import type { MeterResult } from '../domain/metering.js';
import type { RateState } from '../domain/sliding-window.js';
import type { CheckAnswer, RateLimitState } from '../contract/check.js';
import type { CheckOutcome } from './meter-call.js';

/** The check API's answer, field for field as `POST /v1/check` sends it: its one definition is the schema (src/contract/check.ts). */
export type { CheckAnswer } from '../contract/check.js';

/** The answer to a check whose customer credentials did not authenticate. */
export function unauthorizedAnswer(message: string): CheckAnswer {
  return {
    allowed: false, code: 'unauthorized', message, group_id: null, app_id: null, key_id: null,
    monthly_used: null, monthly_quota: null, rate_limit: null, app: null, period: null, retry_after: null,
    request_args_hash: null, replayed: false,
  };
}

/** The answer to a check that was decided: allowed, or refused by a limit. */
export function checkAnswer(outcome: Extract<CheckOutcome, { kind: 'metered' }>): CheckAnswer {
  const { context, result, period } = outcome;
  const limits = { group: context.plan, app: context.app };
  return {
    allowed: result.allowed,
    code: result.code,
    message: denialMessage(outcome),
    group_id: context.group.id,
    app_id: context.app.id,
    key_id: context.key.id,
    monthly_used: result.groupUsed,
    monthly_quota: limits.group.monthlyQuota,
    rate_limit: tightestWindow(result),
    app: {
      monthly_used: result.appUsed,
      monthly_quota: limits.app.monthlyQuota ?? -1,
      rate_limit_per_minute: limits.app.rateLimitPerMinute ?? -1,
    },
    period: { from_date: new Date(period.start).toISOString(), to_date: new Date(period.end).toISOString() },
    retry_after: result.retryAfterMs === null ? null : Math.ceil(result.retryAfterMs / 1000),
    request_args_hash: outcome.requestArgsHash,
    replayed: result.replayed,
  };
}

/** Which limit refused the call and when to retry, in words. */
export function denialMessage(outcome: Extract<CheckOutcome, { kind: 'metered' }>): string {
  const { result, context, period } = outcome;
  const retry = result.retryAfterMs === null ? null : Math.ceil(result.retryAfterMs / 1000);
  const scope = result.deniedBy === 'app' ? `app "${context.app.id}"` : `group "${context.group.id}"`;
  switch (result.code) {
    case 'ok':
      return 'Allowed.';
    case 'quota_exceeded': {
      const quota = result.deniedBy === 'app' ? context.app.monthlyQuota : context.plan.monthlyQuota;
      return `Monthly quota of ${quota} units for ${scope} exceeded; it resets at ${new Date(period.end).toISOString()}.`;
    }
    case 'rate_limited': {
      const limit = result.deniedBy === 'app' ? context.app.rateLimitPerMinute : context.plan.rateLimitPerMinute;
      return retry === null
        ? `This call's cost is above the rate limit of ${limit} units per minute for ${scope}; it can never be allowed.`
        : `Rate limit of ${limit} units per minute for ${scope} exceeded. Retry in ${retry} seconds.`;
    }
  }
}

/** The window closest to refusing: the app's when it has fewer units left, else the group's. */
export function tightestWindow(result: MeterResult): RateLimitState {
  const candidates = [result.groupRate, result.appRate].filter((s): s is RateState => s !== null);
  if (result.deniedBy !== null && result.code === 'rate_limited') {
    const denied = result.deniedBy === 'group' ? result.groupRate : result.appRate;
    if (denied) return { limit: denied.limit, remaining: denied.remaining, reset: Math.ceil(denied.resetMs / 1000) };
  }
  if (candidates.length === 0) return { limit: -1, remaining: -1, reset: 0 };
  const tightest = candidates.reduce((a, b) => (b.remaining < a.remaining ? b : a));
  return { limit: tightest.limit, remaining: tightest.remaining, reset: Math.ceil(tightest.resetMs / 1000) };
}
