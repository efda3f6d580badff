import type { Span } from '../domain/periods.js';
import type { Limits, MeterResult } from '../domain/metering.js';
import type { RateState } from '../domain/sliding-window.js';

/**
 * The RateLimit fields of draft-ietf-httpapi-ratelimit-headers-10, one
 * policy per limit that binds the caller, each a Structured Fields List:
 *
 *   RateLimit-Policy: "minute";q=600;w=60, "month";q=100000;w=2678400
 *   RateLimit: "minute";r=599;t=1, "month";r=99876;t=1296000
 *
 * `r` is the units that remain; `t` is, as the draft defines it, the seconds
 * until additional quota is made available: for the sliding minute, until
 * the next unit comes back (not until the window is empty); for the month,
 * until the period ends. A limit with nothing used has no unit to come back,
 * so its `t` is left out (the draft makes it optional).
 *
 * A refusal that a retry can overcome also carries `Retry-After`: when the
 * call would fit every limit that refused it. That is never earlier than the
 * `t` of a limit that refused (a call needs at least one unit more than
 * remains there), and later only when the call needs more than one unit more,
 * or another limit needs longer. `now` is the moment the call was decided,
 * so that both are counted from the same instant.
 */
export function rateLimitHeaders(result: MeterResult, limits: Limits, period: Span, now: number): Record<string, string> {
  const policies: string[] = [];
  const states: string[] = [];
  const add = (name: string, quota: number, windowSeconds: number, remaining: number, nextMs: number | null) => {
    policies.push(`"${name}";q=${quota};w=${windowSeconds}`);
    states.push(`"${name}";r=${remaining}${nextMs === null ? '' : `;t=${seconds(nextMs)}`}`);
  };
  const window = (name: string, state: RateState | null) => {
    // An answer stored before `nextUnitMs` existed (an idempotent replay) has none: its `t` is left out.
    if (state !== null) add(name, state.limit, 60, state.remaining, typeof state.nextUnitMs === 'number' ? state.nextUnitMs : null);
  };
  const month = (name: string, quota: number, used: number) => {
    if (quota < 0) return;
    const remaining = Math.max(0, quota - used);
    add(name, quota, Math.round((period.end - period.start) / 1000), remaining, remaining < quota ? period.end - now : null);
  };
  window('minute', result.groupRate);
  window('app-minute', result.appRate);
  month('month', limits.groupMonthlyQuota, result.groupUsed);
  month('app-month', limits.appMonthlyQuota, result.appUsed);

  const headers: Record<string, string> = {};
  if (policies.length > 0) {
    headers['ratelimit-policy'] = policies.join(', ');
    headers.ratelimit = states.join(', ');
  }
  if (!result.allowed && result.retryAfterMs !== null) headers['retry-after'] = String(seconds(result.retryAfterMs));
  return headers;
}

/** Whole seconds, rounded up (a client waiting that long finds the unit back), never negative. */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}
