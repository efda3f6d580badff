import { AdminApi } from './admin.js';
import { remoteCheck } from './check.js';
import { EventsApi } from './events.js';
import { HttpClient, type FetchLike } from './http.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import type { CheckInput, CheckResult } from './types.js';
import { UsageApi } from './usage.js';

export interface TollgateOptions {
  /** Where Tollgate listens, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /**
   * The admin token (everything), or a service token (`check` and `events`
   * only). Not needed for `usage`, which uses the customer's key.
   */
  token?: string;
  /** Replaces the global `fetch` (a proxy-aware one, or a test double). */
  fetch?: FetchLike;
  /** Per attempt; default 10 s. */
  timeoutMs?: number;
  /** Retries after a network error, 429 or 5xx, where safe; default 2. */
  retries?: number;
  /** The backoff between retries; default 200 ms doubling each time, at most 30 s. */
  backoff?: { baseDelayMs?: number; maxDelayMs?: number };
}

/**
 * A typed client for a Tollgate server: the check API, event ingest, the
 * customer usage APIs and the admin API. Failures throw `TollgateError`.
 *
 * @example
 * import { Tollgate } from 'tollgate/client';
 *
 * const tollgate = new Tollgate({ baseUrl: 'http://127.0.0.1:8080', token: process.env.TOLLGATE_SERVICE_TOKEN });
 * const result = await tollgate.check({ key: customerKey, usageType: 'image', requestArgs: { formats: ['text'] } });
 * if (!result.allowed) return reply.code(result.code === 'unauthorized' ? 401 : 429).send({ error: result.code, message: result.message });
 */
export class Tollgate {
  /** `GET /v1/usage` and `GET /v3/ocr-usage`, with a customer's key. */
  readonly usage: UsageApi;
  /** `POST /v1/events` and the batcher. */
  readonly events: EventsApi;
  /** Plans, groups, apps, keys and service tokens. */
  readonly admin: AdminApi;
  private readonly http: HttpClient;

  constructor(options: TollgateOptions) {
    const retry: RetryPolicy = {
      retries: options.retries ?? DEFAULT_RETRY.retries,
      baseDelayMs: options.backoff?.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs,
      maxDelayMs: options.backoff?.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
    };
    this.http = new HttpClient({
      baseUrl: options.baseUrl,
      ...(options.token === undefined ? {} : { token: options.token }),
      fetch: options.fetch ?? ((url, init) => fetch(url, init)),
      timeoutMs: options.timeoutMs ?? 10_000,
      retry,
    });
    this.usage = new UsageApi(this.http);
    this.events = new EventsApi(this.http);
    this.admin = new AdminApi(this.http);
  }

  /**
   * Meters one call (`POST /v1/check`): authenticates the customer's key,
   * applies the limits and records the call when it is allowed. A refusal is
   * an answer (`allowed: false`, `code`), not an error.
   */
  check(input: CheckInput): Promise<CheckResult> {
    return remoteCheck(this.http, input);
  }
}
