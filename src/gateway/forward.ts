import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { ApiError } from '../errors.js';
import type { GatewayRoute } from './config.js';

/** Connections kept to each upstream origin (what @fastify/reply-from uses). */
const CONNECTIONS_PER_ORIGIN = 128;
/** Connecting never waits longer than this, whatever the route's timeout. */
const MAX_CONNECT_TIMEOUT_MS = 10_000;

export interface ForwardInit {
  method: Dispatcher.HttpMethod;
  /** Path and query, as sent to the upstream (the route's prefix included). */
  path: string;
  headers: Record<string, string | string[]>;
  /** The client's body, streamed as it arrives; null for none. */
  body: Readable | null;
}

/**
 * One undici connection pool per upstream origin, shared by the routes that
 * go there: keep-alive connections are reused across calls, as a plain proxy
 * does, so the gateway pays no connection setup per call.
 */
export class Upstreams {
  private readonly pools = new Map<string, Pool>();

  constructor(routes: readonly GatewayRoute[]) {
    const connectTimeouts = new Map<string, number>();
    for (const route of routes) {
      const current = connectTimeouts.get(route.upstream.origin) ?? MAX_CONNECT_TIMEOUT_MS;
      connectTimeouts.set(route.upstream.origin, Math.min(current, route.timeoutMs));
    }
    for (const [origin, connectTimeout] of connectTimeouts) {
      this.pools.set(origin, new Pool(origin, { connections: CONNECTIONS_PER_ORIGIN, pipelining: 1, connectTimeout }));
    }
  }

  /**
   * Sends a call upstream; resolves once the upstream's status and headers
   * have arrived, with its body still to be read (a stream). Both bodies
   * stream: nothing is held whole. The route's timeout bounds the wait for
   * the headers (counted from the end of the upload) and any pause in the
   * upstream's body.
   */
  forward(route: GatewayRoute, init: ForwardInit): Promise<Dispatcher.ResponseData> {
    const pool = this.pools.get(route.upstream.origin)!;
    return pool.request({
      method: init.method,
      path: init.path,
      headers: init.headers,
      body: init.body,
      headersTimeout: route.timeoutMs,
      bodyTimeout: route.timeoutMs,
    });
  }

  /** Closes every pool once its calls in flight are done. */
  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * What the client hears when the upstream could not answer: 504 when it was
 * too slow, 502 when it refused the connection or failed. The message says
 * which, without the upstream's address (that is for the log).
 */
export function upstreamFailure(error: unknown, route: GatewayRoute): ApiError {
  const code = errorCode(error);
  if (code !== null && TIMEOUT_CODES.has(code)) {
    return new ApiError('gateway_timeout', `The upstream service did not answer within ${route.timeoutMs} ms; the call was not counted.`);
  }
  return new ApiError('bad_gateway', `The upstream service could not be reached or failed (${code ?? 'error'}); the call was not counted.`);
}

/** The error's code (`ECONNREFUSED`, `UND_ERR_SOCKET`…), looking into an AggregateError's first error. */
export function errorCode(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const first = (error as { errors?: unknown[] }).errors?.[0];
  return first === undefined ? null : errorCode(first);
}
