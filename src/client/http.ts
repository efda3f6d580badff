import { TollgateError } from './errors.js';
import { backoffDelay, parseRetryAfter, sleep, type RetryPolicy } from './retry.js';
import type { Credentials } from './types.js';

/** The part of `fetch` the SDK uses; the global `fetch` fits, and so does a test double. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface HttpOptions {
  baseUrl: string;
  /** Admin or service token, sent as `Authorization: Bearer`. */
  token?: string;
  fetch: FetchLike;
  timeoutMs: number;
  retry: RetryPolicy;
}

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** A customer's credentials (the usage endpoints), sent instead of the token. */
  credentials?: Credentials;
  /**
   * Whether sending the request twice does no harm: reads, events (counted
   * once per id) and checks with an idempotency key. Only these are retried
   * after a timeout or a 5xx, where the first attempt may have been counted.
   */
  idempotent: boolean;
  /** Overrides the client's number of retries. */
  retries?: number;
  /** The media type asked for (`text/csv`), when not JSON: the body answered is then the text as is. */
  accept?: string;
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** An attempt that failed; `notSent` when the request surely never left (nothing can have been counted). */
interface Failure {
  error: TollgateError;
  notSent: boolean;
}

/** Connection failures that happen before the request is sent: retrying them can never count a call twice. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

const STATUS_CODES: Record<number, string> = {
  400: 'invalid_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict',
  413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'rate_limited', 500: 'internal_error', 503: 'unavailable',
};

/**
 * Sends one API request, retrying what is safe to retry (network errors,
 * 429, 5xx) with exponential backoff and jitter, and waiting at least what
 * `Retry-After` asks. A 4xx other than 429 is never retried.
 */
export class HttpClient {
  constructor(private readonly options: HttpOptions) {}

  async request<T>(req: ApiRequest): Promise<ApiResponse<T>> {
    const retries = req.retries ?? this.options.retry.retries;
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.attempt<T>(req);
      if (!('error' in outcome)) return outcome;
      const wait = this.retryDelay(outcome, req, attempt, retries);
      if (wait === null) throw outcome.error;
      await sleep(wait);
    }
  }

  /** How long to wait before retrying this failure, or null when it must not be retried. */
  private retryDelay({ error, notSent }: Failure, req: ApiRequest, attempt: number, retries: number): number | null {
    if (attempt >= retries) return null;
    // 429 and 503 say the request was not processed; any other failure may have been.
    const safe = error.status === 429 || error.status === 503 || notSent || req.idempotent;
    const transient = error.status === 0 || error.status === 429 || error.status >= 500;
    if (!safe || !transient) return null;
    const backoff = backoffDelay(attempt, this.options.retry);
    const asked = error.retryAfter === null ? 0 : error.retryAfter * 1000;
    if (asked > this.options.retry.maxDelayMs) return null;
    return Math.max(asked, backoff);
  }

  private async attempt<T>(req: ApiRequest): Promise<ApiResponse<T> | Failure> {
    let response: Response;
    try {
      response = await this.options.fetch(this.url(req), {
        method: req.method,
        headers: this.headers(req),
        ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      return networkError(error, this.options.timeoutMs);
    }
    const text = await response.text().catch(() => '');
    if (req.accept !== undefined && response.ok) return { status: response.status, headers: response.headers, body: text as T };
    let body: unknown = undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      if (response.ok) return { error: new TollgateError(response.status, 'invalid_response', `Tollgate answered ${response.status} with a body that is not JSON.`), notSent: false };
    }
    if (response.ok) return { status: response.status, headers: response.headers, body: body as T };
    const wire = (body ?? {}) as { error?: unknown; message?: unknown };
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    const error = new TollgateError(
      response.status,
      typeof wire.error === 'string' ? wire.error : STATUS_CODES[response.status] ?? `http_${response.status}`,
      typeof wire.message === 'string' ? wire.message : `Tollgate answered ${response.status}: ${text.slice(0, 200)}`,
      { retryAfter: retryAfterMs === null ? null : Math.ceil(retryAfterMs / 1000) },
    );
    return { error, notSent: false };
  }

  private url(req: ApiRequest): string {
    // Relative to the base URL, so that a path prefix (https://example.com/tollgate) is kept.
    const url = new URL(req.path.replace(/^\//, ''), this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`);
    for (const [name, value] of Object.entries(req.query ?? {})) if (value !== undefined) url.searchParams.set(name, value);
    return url.href;
  }

  private headers(req: ApiRequest): Record<string, string> {
    const headers: Record<string, string> = { accept: req.accept ?? 'application/json' };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (req.credentials !== undefined) {
      if ('key' in req.credentials) headers['x-api-key'] = req.credentials.key;
      else Object.assign(headers, { app_id: req.credentials.appId, app_key: req.credentials.appKey });
    } else if (this.options.token !== undefined) {
      headers.authorization = `Bearer ${this.options.token}`;
    }
    return headers;
  }
}

function networkError(error: unknown, timeoutMs: number): Failure {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return { error: new TollgateError(0, 'timeout', `No answer from Tollgate within ${timeoutMs} ms.`, { cause: error }), notSent: false };
  }
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  const reason = `${error instanceof Error ? error.message : String(error)}${typeof code === 'string' ? ` (${code})` : ''}`;
  return {
    error: new TollgateError(0, 'network_error', `Could not reach Tollgate: ${reason}.`, { cause: error }),
    notSent: typeof code === 'string' && NOT_SENT.has(code),
  };
}
