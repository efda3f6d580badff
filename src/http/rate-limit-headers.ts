import type { Span } from '../domain/periods.js';
import type { Limits, MeterResult, RateState } from '../store/store.js';

/**
 * The IETF httpapi rate-limit draft's fields, one policy per limit that
 * binds the caller:
 *
 *   RateLimit-Policy: "minute";q=600;w=60, "month";q=100000;w=2678400
 *   RateLimit: "minute";r=599;t=60, "month";r=99876;t=1296000
 *
 * plus `Retry-After` (seconds) on a refusal that a retry can overcome.
 */
export function rateLimitHeaders(result: MeterResult, limits: Limits, period: Span, now: number): Record<string, string> {
  const policies: string[] = [];
  const states: string[] = [];
  const window = (name: string, state: RateState | null) => {
    if (state === null) return;
    policies.push(`"${name}";q=${state.limit};w=60`);
    states.push(`"${name}";r=${state.remaining};t=${Math.ceil(state.resetMs / 1000)}`);
  };
  const month = (name: string, quota: number, used: number) => {
    if (quota < 0) return;
    policies.push(`"${name}";q=${quota};w=${Math.round((period.end - period.start) / 1000)}`);
    states.push(`"${name}";r=${Math.max(0, quota - used)};t=${Math.ceil((period.end - now) / 1000)}`);
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
  if (!result.allowed && result.retryAfterMs !== null) headers['retry-after'] = String(Math.ceil(result.retryAfterMs / 1000));
  return headers;
}

/** The window closest to refusing: the app's when it has fewer units left, else the group's. */
export function tightestWindow(result: MeterResult): { limit: number; remaining: number; reset: number } {
  const candidates = [result.groupRate, result.appRate].filter((s): s is RateState => s !== null);
  if (result.deniedBy !== null && result.code === 'rate_limited') {
    const denied = result.deniedBy === 'group' ? result.groupRate : result.appRate;
    if (denied) return { limit: denied.limit, remaining: denied.remaining, reset: Math.ceil(denied.resetMs / 1000) };
  }
  if (candidates.length === 0) return { limit: -1, remaining: -1, reset: 0 };
  const tightest = candidates.reduce((a, b) => (b.remaining < a.remaining ? b : a));
  return { limit: tightest.limit, remaining: tightest.remaining, reset: Math.ceil(tightest.resetMs / 1000) };
}
