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
