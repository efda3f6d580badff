import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Span } from '../domain/periods.js';
import { hashSecret, sameHash } from '../domain/secrets.js';
import type { KeyContext } from '../domain/types.js';
import { ApiError } from '../errors.js';
import { authenticate, bearerToken, credentialsFromHeaders } from '../metering/credentials.js';
import { touchRateLimits } from '../metering/meter-call.js';
import type { Services } from '../services.js';
import { stateOf, type MeterResult } from '../domain/metering.js';
import { SHORTHAND } from '../domain/limits.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

/** The authenticated customer of a usage endpoint, and what their call cost. */
export interface Customer {
  context: KeyContext;
  meter: MeterResult;
  period: Span;
}

declare module 'fastify' {
  interface FastifyRequest {
    customer?: Customer;
  }
}

/**
 * A failed authentication, and the error to throw: the 429 when the
 * caller's address is refused for now (after too many failures), otherwise
 * the 401, and the failure is counted against the address. Only failures
 * come here: a valid credential is never refused for its address.
 */
export function authFailed(services: Services, request: FastifyRequest, message: string): ApiError {
  services.authThrottle.assertAllowed(request.ip);
  if (services.authThrottle.failed(request.ip)) {
    request.log.warn({ ip: request.ip }, `authentication: too many failures from this address, refused for ${services.config.authBlockMs / 1000} s`);
  }
  return new ApiError('unauthorized', message);
}

/** Admin routes: `Authorization: Bearer <admin token>`, compared by hash in constant time. */
export function requireAdmin(services: Services): onRequestHookHandler {
  return async (request) => {
    const token = bearerToken(request.headers.authorization);
    if (token === null || !sameHash(hashSecret(token), services.adminTokenHash)) {
      throw authFailed(services, request, 'Missing or invalid admin token: send "Authorization: Bearer <admin token>".');
    }
  };
}

/** `/metrics`: the admin token, or the metrics token (TOLLGATE_METRICS_TOKEN) that reads metrics and nothing else. */
export function requireMetricsReader(services: Services): onRequestHookHandler {
  return async (request) => {
    const token = bearerToken(request.headers.authorization);
    if (token !== null) {
      const hash = hashSecret(token);
      // Both compared, whichever matches: the time taken says nothing about which token was close.
      const admin = sameHash(hash, services.adminTokenHash);
      const metrics = services.metricsTokenHash !== null && sameHash(hash, services.metricsTokenHash);
      if (admin || metrics) return;
    }
    throw authFailed(services, request, 'Missing or invalid token: send "Authorization: Bearer <metrics or admin token>".');
  };
}

/** The metering APIs (check, events): the admin token, or a service token that is not revoked. */
export function requireServiceCaller(services: Services): onRequestHookHandler {
  return async (request) => {
    const token = bearerToken(request.headers.authorization);
    if (token !== null) {
      const hash = hashSecret(token);
      if (sameHash(hash, services.adminTokenHash)) return;
      const serviceToken = await services.store.findServiceToken(hash);
      if (serviceToken !== null && serviceToken.revokedAt === null) return;
    }
    throw authFailed(services, request, 'Missing or invalid service token: send "Authorization: Bearer <admin or service token>".');
  };
}

/**
 * Customer routes: authenticate the key, count the call against its
 * per-minute limits (not its quota), and attach the customer to the request.
 * Runs before validation, so a caller without a valid key learns nothing more.
 */
export function requireCustomer(services: Services): onRequestHookHandler {
  return async (request, reply) => {
    const auth = await authenticate(services.store, credentialsFromHeaders(request.headers), services.clock.now());
    if (!auth.ok) throw authFailed(services, request, auth.message);
    await admitCustomer(services, auth.context, request, reply);
  };
}

/**
 * Counts an authenticated customer's call to a usage endpoint against its
 * per-minute limits, answers 429 past them, and attaches the customer to the
 * request (shared by the key headers and the dashboard's customer session).
 */
export async function admitCustomer(services: Services, context: KeyContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { result, period } = await touchRateLimits(services, context);
  const headers = rateLimitHeaders(result, period);
  void reply.headers(headers);
  if (!result.allowed) {
    const denied = result.deniedBy === null ? undefined : stateOf(result, result.deniedBy);
    const retry = headers['retry-after'];
    const shorthand = denied === undefined || denied.name === SHORTHAND.groupMinute || denied.name === SHORTHAND.appMinute;
    const label = shorthand ? 'Rate limit' : `Limit "${denied.name}"`;
    const owner = denied?.name === SHORTHAND.appMinute ? ' for this app' : '';
    throw new ApiError('rate_limited', `${label} of ${denied?.units} requests per ${denied?.window ?? 'minute'}${owner} exceeded. Retry in ${retry} seconds.`, headers);
  }
  request.customer = { context, meter: result, period };
}
