/**
 * The error catalogue: every error Tollgate answers with, its HTTP status and
 * its default message, in one place. Every error leaves the server as
 * `{"error": "<code>", "message": "<text>"}` (the shape of the Paperguide
 * usage API), and an error that is not in this catalogue becomes a 500
 * `internal_error` that reveals nothing of its cause.
 */
export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, message: 'The request was invalid or missing required parameters.' },
  unauthorized: { status: 401, message: 'Missing or invalid API key.' },
  insufficient_credits: { status: 402, message: 'The credit balance cannot cover this call.' },
  forbidden: { status: 403, message: 'This credential may not perform this operation.' },
  not_found: { status: 404, message: 'No such resource.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed on this path.' },
  request_timeout: { status: 408, message: 'The request took too long to arrive.' },
  conflict: { status: 409, message: 'The resource already exists.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The request body must be JSON (Content-Type: application/json).' },
  headers_too_large: { status: 431, message: 'The request line and headers are too large.' },
  rate_limited: { status: 429, message: 'Rate limit exceeded. Please try again later.' },
  quota_exceeded: { status: 429, message: 'Monthly quota exceeded.' },
  internal_error: { status: 500, message: 'An unexpected server error occurred.' },
  bad_gateway: { status: 502, message: 'The upstream service could not be reached or failed.' },
  unavailable: { status: 503, message: 'The service is not available right now. Please try again later.' },
  gateway_timeout: { status: 504, message: 'The upstream service did not answer in time.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
}

/**
 * An error that knows how to become an HTTP answer.
 *
 * @example
 * throw new ApiError('not_found', `No plan with id "${id}".`);
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers, such as `Retry-After` on a 429. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message?: string, headers: Record<string, string> = {}) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.headers = headers;
  }

  toBody(): ErrorBody {
    return { error: this.code, message: this.message };
  }
}
