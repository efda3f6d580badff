import type { Span } from '../domain/periods.js';
import type { LimitState, MeterResult } from '../domain/metering.js';
import { windowMs } from '../domain/limit-decision.js';

/**
 * The RateLimit fields of draft-ietf-httpapi-ratelimit-headers-10, one
 * named policy per limit that binds the caller, each a Structured Fields List:
 *
 *   RateLimit-Policy: "minute";q=600;w=60, "month";q=100000;w=2678400, "burst";q=20;w=1
 *   RateLimit: "minute";r=599;t=1, "month";r=99876;t=1296000, "burst";r=19;t=1
 *
 * The policy names are the limits' names (the shorthand fields are
 * `minute`, `month`, `app-minute` and `app-month`). `r` is the units that
 * remain; `t` is, as the draft defines it, the seconds until additional
 * quota is made available: for a sliding window, until the next unit comes
 * back (not until the window is empty); for a billing period, until it
 * ends. A limit with nothing used has no unit to come back, so its `t` is
 * left out (the draft makes it optional). Limits kept without a bound
 * (units -1) have no policy.
 *
 * A refusal that a retry can overcome also carries `Retry-After`: when the
 * call would fit every limit that refused it. That is never earlier than the
 * `t` of a limit that refused (a call needs at least one unit more than
 * remains there), and later only when the call needs more than one unit more,
 * or another limit needs longer. `now` is the moment the call was decided,
 * so that both are counted from the same instant.
 */
export function rateLimitHeaders(result: Pick<MeterResult, 'allowed' | 'limits' | 'retryAfterMs'>, period: Span): Record<string, string> {
  const policies: string[] = [];
  const states: string[] = [];
  for (const state of result.limits) {
    if (state.units < 0) continue;
    policies.push(`"${state.name}";q=${state.units};w=${windowSeconds(state, period)}`);
    // An answer stored before `nextUnitMs` existed (an idempotent replay) has none: its `t` is left out.
    const next = typeof state.nextUnitMs === 'number' ? `;t=${seconds(state.nextUnitMs)}` : '';
    states.push(`"${state.name}";r=${state.remaining}${next}`);
  }
  const headers: Record<string, string> = {};
  if (policies.length > 0) {
    headers['ratelimit-policy'] = policies.join(', ');
    headers.ratelimit = states.join(', ');
  }
  if (!result.allowed && result.retryAfterMs !== null) headers['retry-after'] = String(seconds(result.retryAfterMs));
  return headers;
}

function windowSeconds(state: LimitState, period: Span): number {
  const ms = windowMs(state);
  return Math.round((ms ?? period.end - period.start) / 1000);
}

/** Whole seconds, rounded up (a client waiting that long finds the unit back), never negative. */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}
