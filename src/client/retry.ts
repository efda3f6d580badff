/** How a failed call is retried. */
export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  retries: number;
  /** The first retry waits about this long; each next one about twice as long. */
  baseDelayMs: number;
  /** No wait is longer; a `Retry-After` beyond it is not waited for, the error is thrown instead. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ retries: 2, baseDelayMs: 200, maxDelayMs: 30_000 });

/**
 * The wait before retry number `attempt` (from 0): exponential, with "equal
 * jitter" (half fixed, half random) so that clients failing together do not
 * come back together, yet every wait still grows.
 *
 * @example
 * backoffDelay(2, { retries: 3, baseDelayMs: 100, maxDelayMs: 10_000 }); // 200 to 400
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * `Retry-After` in milliseconds: delta-seconds (`120`) or an HTTP date;
 * null when absent or unreadable.
 */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
