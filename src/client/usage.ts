import type { HttpClient } from './http.js';
import type { Credentials, CurrentUsage, UsageQuery, UsageRecord } from './types.js';
import { fromWire } from './wire.js';

/** The query string of `/v3/ocr-usage` from a `UsageQuery`. */
export function usageQueryString(query: UsageQuery): Record<string, string | undefined> {
  const instant = (value: Date | string | undefined) => (value instanceof Date ? value.toISOString() : value);
  return { from_date: instant(query.from), to_date: instant(query.to), group_by: query.groupBy, timespan: query.timespan, tz: query.tz };
}

/**
 * The customer-facing usage APIs, called with a customer's own key. They
 * count against the customer's per-minute limit (a 429 `rate_limited` is
 * retried after `Retry-After`) and never against the monthly quota.
 *
 * @example
 * const { monthlyUsed, monthlyQuota } = await tollgate.usage.current({ key: customerKey });
 * const byDay = await tollgate.usage.query({ appId: 'acme-ocr', appKey: customerKey }, { timespan: 'day', groupBy: 'usage_type' });
 */
export class UsageApi {
  constructor(private readonly http: HttpClient) {}

  /** `GET /v1/usage`: units used this billing month, the quota and the per-minute limit. */
  async current(credentials: Credentials): Promise<CurrentUsage> {
    const response = await this.http.request<unknown>({ method: 'GET', path: '/v1/usage', credentials, idempotent: true });
    return fromWire(response.body) as CurrentUsage;
  }

  /** `GET /v3/ocr-usage`: usage over time, one record per period and value of `groupBy`. */
  async query(credentials: Credentials, query: UsageQuery = {}): Promise<UsageRecord[]> {
    const response = await this.http.request<unknown>({
      method: 'GET', path: '/v3/ocr-usage', query: usageQueryString(query), credentials, idempotent: true,
    });
    return (fromWire(response.body) as { ocrUsage: UsageRecord[] }).ocrUsage;
  }
}
