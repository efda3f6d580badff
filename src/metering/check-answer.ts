import { RESERVED_LIMIT_NAMES, SHORTHAND } from '../domain/limits.js';
import { stateOf, type LimitState, type MeterResult } from '../domain/metering.js';
import type { CheckAnswer, LimitAnswer, RateLimitState } from '../contract/check.js';
import type { CheckOutcome } from './meter-call.js';

/** The check API's answer, field for field as `POST /v1/check` sends it: its one definition is the schema (src/contract/check.ts). */
export type { CheckAnswer } from '../contract/check.js';

/** The answer to a check whose customer credentials did not authenticate. */
export function unauthorizedAnswer(message: string): CheckAnswer {
  return {
    allowed: false, code: 'unauthorized', message, group_id: null, app_id: null, key_id: null,
    monthly_used: null, monthly_quota: null, rate_limit: null, app: null, period: null, retry_after: null,
    request_args_hash: null, replayed: false, limits: [], denied_by: null, credits: null,
  };
}

/** The answer to a check that was decided: allowed, or refused by a limit. */
export function checkAnswer(outcome: Extract<CheckOutcome, { kind: 'metered' }>): CheckAnswer {
  const { context, result, period } = outcome;
  const month = stateOf(result, SHORTHAND.groupMonth);
  const appMonth = stateOf(result, SHORTHAND.appMonth);
  return {
    allowed: result.allowed,
    code: result.code,
    message: denialMessage(outcome),
    group_id: context.group.id,
    app_id: context.app.id,
    key_id: context.key.id,
    monthly_used: month?.used ?? 0,
    monthly_quota: month?.units ?? -1,
    rate_limit: tightestWindow(result),
    app: {
      monthly_used: appMonth?.used ?? 0,
      monthly_quota: appMonth?.units ?? -1,
      rate_limit_per_minute: stateOf(result, SHORTHAND.appMinute)?.units ?? -1,
    },
    period: { from_date: new Date(period.start).toISOString(), to_date: new Date(period.end).toISOString() },
    retry_after: result.retryAfterMs === null ? null : Math.ceil(result.retryAfterMs / 1000),
    request_args_hash: outcome.requestArgsHash,
    replayed: result.replayed,
    limits: result.limits.filter((state) => state.units >= 0).map(limitAnswer),
    denied_by: result.deniedBy,
    credits: result.credits,
  };
}

/** A limit's state as the answers show it. */
export function limitAnswer(state: LimitState): LimitAnswer {
  return {
    name: state.name, window: state.window, scope: state.scope, units: state.units,
    used: state.used, remaining: state.remaining, reset: Math.ceil(state.resetMs / 1000),
  };
}

/** Which limit refused the call and when to retry, in words. */
export function denialMessage(outcome: Extract<CheckOutcome, { kind: 'metered' }>): string {
  const { result, context, period } = outcome;
  if (result.code === 'ok') return 'Allowed.';
  if (result.code === 'insufficient_credits') {
    return `The balance of ${result.credits?.balance ?? 0} credits of group "${context.group.id}" cannot cover this call.`;
  }
  const retry = result.retryAfterMs === null ? null : Math.ceil(result.retryAfterMs / 1000);
  const denied = result.deniedBy === null ? undefined : stateOf(result, result.deniedBy);
  const owner = denied?.scope === 'app' ? `app "${context.app.id}"` : denied?.scope === 'key' ? `key "${context.key.id}"` : `group "${context.group.id}"`;
  const shorthand = denied !== undefined && (RESERVED_LIMIT_NAMES as readonly string[]).includes(denied.name);
  const units = denied?.units ?? -1;
  if (result.code === 'quota_exceeded') {
    const what = shorthand ? `Monthly quota of ${units} units` : `Limit "${denied?.name}" of ${units} units per billing period`;
    return `${what} for ${owner} exceeded; it resets at ${new Date(period.end).toISOString()}.`;
  }
  const what = shorthand ? `rate limit of ${units} units per minute` : `limit "${denied?.name}" of ${units} units per ${denied?.window}`;
  return retry === null
    ? `This call's cost is above the ${what} for ${owner}; it can never be allowed.`
    : `${capitalise(what)} for ${owner} exceeded. Retry in ${retry} seconds.`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The per-minute window closest to refusing (the one that refused, when one did): the app's when it has fewer units left, else the group's. */
export function tightestWindow(result: MeterResult): RateLimitState {
  const minutes = [stateOf(result, SHORTHAND.groupMinute), stateOf(result, SHORTHAND.appMinute)].filter((s): s is LimitState => s !== undefined);
  const denied = minutes.find((s) => s.name === result.deniedBy);
  const tightest = denied ?? (minutes.length === 0 ? undefined : minutes.reduce((a, b) => (b.remaining < a.remaining ? b : a)));
  if (tightest === undefined) return { limit: -1, remaining: -1, reset: 0 };
  return { limit: tightest.units, remaining: tightest.remaining, reset: Math.ceil(tightest.resetMs / 1000) };
}
