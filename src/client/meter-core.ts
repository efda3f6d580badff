import type { IncomingHttpHeaders } from 'node:http';
import type { EmbeddedOptions } from './embedded.js';
import { ERROR_CATALOGUE } from '../errors.js';
import { credentialsFromHeaders } from '../metering/credentials.js';
import { TollgateError } from './errors.js';
import type { CheckInput, CheckResult } from './types.js';

/** Anything that meters a call: a `Tollgate` client, or an `EmbeddedTollgate`. */
export interface Checker {
  check(input: CheckInput): Promise<CheckResult>;
}

/** What a metered route costs, and how it is described to Tollgate. */
export interface MeterCallOptions<Req> {
  /** The kind of call: `image`, `pdf`… */
  usageType: string;
  /** Units per call, or a function of the request (its body, say); default 1. */
  cost?: number | ((request: Req) => number | Promise<number>);
  /** The call's arguments, hashed into `request_args_hash` for the usage queries. */
  requestArgs?: (request: Req) => Record<string, unknown> | undefined;
}

export interface MeterOptions<Req> extends MeterCallOptions<Req> {
  /**
   * A `Tollgate` client (a remote server), an `EmbeddedTollgate`, or
   * `{ embedded: { dataDir } }` to open one in this process for as long as
   * the plugin lives (shared with every other user of that directory here).
   */
  tollgate: Checker | { embedded: EmbeddedOptions };
  /**
   * When Tollgate cannot answer (network error, timeout, 5xx, store failure):
   * `false` (default) refuses the call with 503 `unavailable`; `true` lets it
   * through, uncounted.
   */
  failOpen?: boolean;
}

/**
 * The customer-facing error shape, as Tollgate's own errors (and the usage
 * APIs' `{"error", "message"}`), with `limit`: the name of the limit that
 * refused the call (`credits` when the balance could not cover it).
 */
export interface ErrorBody {
  error: 'unauthorized' | 'rate_limited' | 'quota_exceeded' | 'insufficient_credits' | 'unavailable';
  message: string;
  limit?: string;
}

/** What to do with a request: run the route (with these headers), or answer in its place. */
export type MeterVerdict =
  | { allowed: true; headers: Record<string, string>; result: CheckResult | null }
  | { allowed: false; status: 401 | 402 | 429 | 503; headers: Record<string, string>; body: ErrorBody; result: CheckResult | null };

/** The customer's credentials from the request headers, read exactly as Tollgate's own usage APIs read them. */
export { credentialsFromHeaders };

/**
 * A check answer as an HTTP outcome: allowed; 429 `rate_limited` or
 * `quota_exceeded` (waiting, or the next period, cures it: `Retry-After`
 * says when); 402 `insufficient_credits` (only a grant cures it, so no
 * `Retry-After`); else 401 `unauthorized`.
 */
export function verdictFor(result: CheckResult): MeterVerdict {
  const headers = { ...result.headers } as Record<string, string>;
  if (result.allowed) return { allowed: true, headers, result };
  const { code, message, deniedBy } = result;
  if (code === 'rate_limited' || code === 'quota_exceeded' || code === 'insufficient_credits') {
    // The server's own status for each refusal, so the SDK answers as the gateway does.
    const body: ErrorBody = { error: code, message, ...(deniedBy === null ? {} : { limit: deniedBy }) };
    return { allowed: false, status: ERROR_CATALOGUE[code].status, headers, body, result };
  }
  return { allowed: false, status: 401, headers, body: { error: 'unauthorized', message }, result };
}

/**
 * Tollgate refused to check a call because of how the meter is set up (a
 * cost or usage type it does not accept, a wrong service token). It carries
 * no HTTP status on purpose: the framework answers 500, and the customer
 * never sees Tollgate's 400 or 401 as if it were theirs. `cause` is the
 * `TollgateError`.
 */
export class MeterSetupError extends Error {
  override readonly name = 'MeterSetupError';
  constructor(cause: TollgateError) {
    super(`Tollgate refused to check this call (${cause.code}: ${cause.message}); check the meter's options and token.`, { cause });
  }
}

const MISSING_KEY: MeterVerdict = {
  allowed: false, status: 401, headers: {}, result: null,
  body: { error: 'unauthorized', message: 'Missing API key: send it in the x-api-key header, or send the app_id and app_key headers.' },
};

const UNAVAILABLE: MeterVerdict = {
  allowed: false, status: 503, headers: {}, result: null,
  body: { error: 'unavailable', message: 'The service is not available right now. Please try again later.' },
};

/**
 * The logic shared by the Fastify plugin and the Express middleware: read
 * the credentials from the headers, check the call, and say what to answer.
 *
 * @example
 * const meter = new Meter({ usageType: 'image', tollgate });
 * const verdict = await meter.decide(request);
 * if (!verdict.allowed) reply.code(verdict.status).headers(verdict.headers).send(verdict.body);
 */
export class Meter<Req extends { headers: IncomingHttpHeaders }> {
  private checker: Promise<Checker> | null = null;
  private release: (() => Promise<void>) | null = null;

  constructor(private readonly options: MeterOptions<Req>) {}

  /** The checker; an embedded one is opened on first use. */
  ready(): Promise<Checker> {
    this.checker ??= (async () => {
      const source = this.options.tollgate;
      if (!('embedded' in source)) return source;
      // Loaded only here: a remote client never loads SQLite or the server.
      const { EmbeddedTollgate } = await import('./embedded.js');
      const embedded = await EmbeddedTollgate.open(source.embedded);
      this.release = () => embedded.close();
      return embedded;
    })();
    return this.checker;
  }

  /**
   * Checks the call `request` stands for. Throws `MeterSetupError` when the
   * call cannot be checked because of how the route is set up (a cost
   * Tollgate refuses, a wrong service token): the provider's error, not the
   * customer's.
   */
  async decide(request: Req, call: MeterCallOptions<Req> = this.options): Promise<MeterVerdict> {
    const credentials = credentialsFromHeaders(request.headers);
    if (credentials === null) return MISSING_KEY;
    const input: CheckInput = {
      ...credentials,
      usageType: call.usageType,
      cost: typeof call.cost === 'function' ? await call.cost(request) : call.cost ?? 1,
    };
    const args = call.requestArgs?.(request);
    if (args !== undefined) input.requestArgs = args;
    const checker = await this.ready();
    let result: CheckResult;
    try {
      result = await checker.check(input);
    } catch (error) {
      if (error instanceof TollgateError && error.status >= 400 && error.status < 500 && error.status !== 429) throw new MeterSetupError(error);
      if (this.options.failOpen === true) return { allowed: true, headers: {}, result: null };
      return UNAVAILABLE;
    }
    return verdictFor(result);
  }

  /** Releases what `ready` opened (an embedded store); a client passed in is left alone. */
  async close(): Promise<void> {
    await this.release?.();
    this.release = null;
  }
}
