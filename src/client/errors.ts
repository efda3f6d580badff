import type { ErrorCode } from '../errors.js';

/**
 * What went wrong, as a code: the server's `error` field (`unauthorized`,
 * `not_found`, `rate_limited`…), or one of the client's own when no answer
 * came back (`network_error`, `timeout`) or the answer was not understood
 * (`invalid_response`).
 */
export type TollgateErrorCode = ErrorCode | 'network_error' | 'timeout' | 'invalid_response' | (string & {});

/**
 * A call to Tollgate that failed: the HTTP status (0 when no answer came
 * back), the `error` code and the `message` of the `{"error", "message"}`
 * body, and `retryAfter` (seconds) when the server sent `Retry-After`.
 *
 * @example
 * try {
 *   await tollgate.admin.plans.get('nope');
 * } catch (error) {
 *   if (error instanceof TollgateError && error.code === 'not_found') console.log(error.message);
 * }
 */
export class TollgateError extends Error {
  override readonly name = 'TollgateError';
  /** HTTP status of the answer; 0 when there was none (network error, timeout). */
  readonly status: number;
  readonly code: TollgateErrorCode;
  /** Seconds from the `Retry-After` header, or null. */
  readonly retryAfter: number | null;

  constructor(status: number, code: TollgateErrorCode, message: string, options: { retryAfter?: number | null; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.code = code;
    this.retryAfter = options.retryAfter ?? null;
  }
}
