import type { HttpClient } from './http.js';
import type { CheckInput, CheckResult, RateLimitHeaders } from './types.js';
import type { CheckAnswer } from '../contract/check.js';
import { fromWire, toWire } from './wire.js';

const RATE_LIMIT_HEADERS = ['ratelimit-policy', 'ratelimit', 'retry-after'] as const;

/** The rate-limit headers present in an answer. */
export function pickRateLimitHeaders(get: (name: string) => string | null | undefined): RateLimitHeaders {
  const headers: RateLimitHeaders = {};
  for (const name of RATE_LIMIT_HEADERS) {
    const value = get(name);
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

/**
 * `POST /v1/check` over HTTP. Without an idempotency key a check is retried
 * only when Tollgate surely did not count it (connection refused, 429, 503):
 * after a timeout it may have been, and a second attempt would count twice.
 */
export async function remoteCheck(http: HttpClient, input: CheckInput): Promise<CheckResult> {
  const response = await http.request<CheckAnswer>({
    method: 'POST', path: '/v1/check', body: toWire(input), idempotent: input.idempotencyKey !== undefined,
  });
  return { ...fromWire(response.body), headers: pickRateLimitHeaders((name) => response.headers.get(name)) };
}
