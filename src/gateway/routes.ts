import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { requestArgsHash } from '../domain/canonical-json.js';
import { ApiError } from '../errors.js';
import { authFailed } from '../http/auth.js';
import { rateLimitHeaders } from '../http/rate-limit-headers.js';
import { denialMessage } from '../metering/check-answer.js';
import type { TypedApp } from '../http/typed-app.js';
import { authenticate, credentialSecret } from '../metering/credentials.js';
import { reserveCall } from '../metering/meter-call.js';
import { statesAfter } from '../domain/limit-decision.js';
import type { Span } from '../domain/periods.js';
import { meteredOutcome } from '../observability/metrics.js';
import type { Services } from '../services.js';
import type { MeterCode, MeterResult } from '../domain/metering.js';
import { GatewayConfigError, type GatewayConfig, type GatewayRoute } from './config.js';
import { reservedCost, settledCost } from './cost.js';
import { Upstreams, upstreamFailure } from './forward.js';
import { clientResponseHeaders, gatewayCredentials, upstreamRequestHeaders } from './headers.js';

export interface GatewayPluginOptions {
  services: Services;
  gateway: GatewayConfig;
}

/**
 * The gateway's routes, one per configured route, as an encapsulated Fastify
 * plugin: register it after Tollgate's own routes. Within it no body is
 * parsed (every content type, JSON included, reaches the handler as the raw
 * request stream, which undici forwards as it arrives), so an upload of any
 * size passes through without being held in memory and `bodyLimit` does not
 * apply. Tollgate's own routes keep their parsers: the override is local.
 */
export async function gatewayRoutes(app: TypedApp, { services, gateway }: GatewayPluginOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const upstreams = new Upstreams(gateway.routes);
  app.addHook('onClose', async () => upstreams.close());

  for (const route of gateway.routes) {
    try {
      app.route({
        method: route.methods,
        url: route.path,
        // HEAD is forwarded only where the file asks for it, like any other method.
        exposeHeadRoute: false,
        schema: { hide: true },
        handler: gatewayHandler(services, upstreams, route),
      });
    } catch (error) {
      const where = route.line === null ? gateway.source : `${gateway.source} line ${route.line}`;
      throw new GatewayConfigError([`${where}: routes[${route.index}].path "${route.path}" cannot be routed: ${(error as Error).message}`]);
    }
  }
}

/**
 * One gateway call: authenticate, hold the call's units against the limits
 * (429 and the upstream is never called when they refuse), forward, settle
 * what the call really cost (durably, before the client hears anything), and
 * stream the upstream's answer back with the RateLimit headers.
 */
function gatewayHandler(services: Services, upstreams: Upstreams, route: GatewayRoute) {
  const { store, clock, config, metrics } = services;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const credentials = gatewayCredentials(request, config.keyPrefix);
    const auth = await authenticate(store, credentials, clock.now()).catch((error: unknown) => {
      metrics.check('gateway', 'error', seconds());
      throw error;
    });
    if (!auth.ok) {
      metrics.check('gateway', 'unauthorized', seconds());
      throw authFailed(services, request, auth.message);
    }
    const { context } = auth;

    const reserved = reservedCost(route.cost, request.headers);
    const argsHash = requestArgsHash(requestArgs(route, request));
    const reservation = await reserveCall(services, context, { usageType: route.usageType, requestArgsHash: argsHash, cost: reserved }).catch((error: unknown) => {
      metrics.check('gateway', 'error', seconds());
      throw error;
    });
    const { result, period } = reservation;
    metrics.check('gateway', meteredOutcome(result), seconds());
    if (!result.allowed) {
      const { now } = reservation.request;
      const message = denialMessage({ kind: 'metered', context, result, period, requestArgsHash: argsHash, now });
      // A refusal's code is never `ok`; each is in the error catalogue with its status (429, or 402 for credits).
      throw new ApiError(result.code as Exclude<MeterCode, 'ok'>, message, rateLimitHeaders(result, period));
    }

    const body = request.body instanceof Object && typeof (request.body as Readable).pipe === 'function' ? request.body as Readable : null;
    const headers = upstreamRequestHeaders(request.headers, credentialSecret(credentials!), context, {
      // The hop this gateway received the call from, whatever X-Forwarded-For said before it (which stays in the chain).
      ip: request.socket.remoteAddress ?? request.ip, protocol: request.protocol, host: request.headers.host,
    });
    // Without a body to send (GET, or a body Fastify left unread), a Content-Length would promise one.
    if (body === null) delete headers['content-length'];
    // The upstream logs under the same id as Tollgate, the caller's or the one made for it here.
    headers['x-request-id'] = request.id;

    let answer: Dispatcher.ResponseData;
    try {
      answer = await upstreams.forward(route, {
        method: request.method as Dispatcher.HttpMethod,
        path: route.upstream.basePath + pathAndQuery(request.url),
        headers,
        body,
      });
    } catch (error) {
      // Not served: the reservation goes back whole.
      await store.settle(reservation.request, 0);
      request.log.warn({ err: error, upstream: route.upstream.origin, route: route.path }, 'gateway: the upstream failed');
      throw upstreamFailure(error, route);
    }

    const cost = settledCost(route.cost, reserved, route.countStatuses, answer.statusCode, answer.headers);
    if (cost.problem !== null) {
      request.log.warn({ route: route.path, upstream: route.upstream.origin, units: cost.units }, `gateway: ${cost.problem}; the call is counted at its reservation`);
    }
    try {
      await store.settle(reservation.request, cost.units);
    } catch (error) {
      answer.body.destroy();
      throw error;
    }

    void reply
      .code(answer.statusCode)
      .headers(clientResponseHeaders(answer.headers))
      .header('x-request-id', request.id)
      .headers(rateLimitHeaders(afterSettle(result, cost.units - reserved, clock.now(), period), period));
    if (request.method === 'HEAD' || answer.statusCode === 204 || answer.statusCode === 304) {
      await answer.body.dump();
      return reply.send();
    }
    return reply.send(answer.body);
  };
}

/**
 * The configured request headers and query fields present on this call,
 * by name (headers in lower case); undefined when there are none, which
 * hashes to "" like a check without arguments.
 */
function requestArgs(route: GatewayRoute, request: FastifyRequest): Record<string, unknown> | undefined {
  let args: Record<string, unknown> | undefined;
  for (const name of route.requestArgs.headers) {
    const value = request.headers[name];
    if (value !== undefined) (args ??= {})[name] = value;
  }
  if (route.requestArgs.query.length > 0) {
    const query = request.query as Record<string, unknown>;
    for (const name of route.requestArgs.query) {
      const value = query[name];
      if (value !== undefined) (args ??= {})[name] = value;
    }
  }
  return args;
}

/** The request target as a path and query, also when a client sent it in absolute form. */
function pathAndQuery(url: string): string {
  if (url.startsWith('/')) return url;
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

/**
 * The reservation's counters as they stand once the call settled `delta`
 * units above (or below) it, at `now`: the answer's RateLimit header is
 * worked out when the answer is sent, which is after the upstream answered.
 */
function afterSettle(result: MeterResult, delta: number, now: number, period: Span): MeterResult {
  return { ...result, limits: statesAfter(result.limits, delta, now, period.end) };
}
