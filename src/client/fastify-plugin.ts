import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Meter, type MeterCallOptions, type MeterOptions } from './meter-core.js';
import type { CheckResult } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The check answer of a metered call; null when it went through uncounted (`failOpen`). */
    tollgate?: CheckResult | null;
  }
  interface FastifyContextConfig {
    /** This route's usage type, cost or arguments, over the plugin's; `false`: not metered. */
    tollgate?: Partial<MeterCallOptions<FastifyRequest>> | false;
  }
}

export type TollgateMeterOptions = MeterOptions<FastifyRequest>;

async function meterPlugin(fastify: FastifyInstance, options: TollgateMeterOptions): Promise<void> {
  const meter = new Meter<FastifyRequest>(options);
  // An embedded store opens now, so a bad data directory fails the start, not the first call.
  await meter.ready();
  fastify.addHook('onClose', async () => meter.close());
  if (!fastify.hasRequestDecorator('tollgate')) fastify.decorateRequest('tollgate', null);
  // preHandler: after the body is parsed, so that a cost or the arguments can be read from it.
  fastify.addHook('preHandler', async (request, reply) => {
    if (request.is404) return;
    const route = request.routeOptions.config.tollgate;
    if (route === false) return;
    const verdict = await meter.decide(request, route === undefined ? options : { ...options, ...route });
    void reply.headers(verdict.headers);
    request.tollgate = verdict.result;
    if (!verdict.allowed) return reply.code(verdict.status).send(verdict.body);
  });
}

/**
 * Meters the routes of a Fastify app, or of the encapsulated context it is
 * registered in: each call is checked before its handler runs, and refused
 * with 401 `unauthorized`, 429 `rate_limited` / `quota_exceeded` (with
 * `Retry-After`) or 402 `insufficient_credits`, in Tollgate's
 * `{"error", "message", "limit"}` shape (`limit`: the name of the limit
 * that refused). Allowed calls
 * carry the RateLimit headers, and `request.tollgate` holds the check answer.
 * A route may set its own `usageType`, `cost` or `requestArgs` in
 * `config.tollgate`, or opt out with `config: { tollgate: false }`.
 *
 * The plugin is not encapsulated (as with `fastify-plugin`): its hook
 * applies to every route of the context that registers it and of that
 * context's children. Register it once per branch: twice would check twice.
 *
 * @example
 * await app.register(tollgateMeter, { usageType: 'image', tollgate: new Tollgate({ baseUrl, token }) });
 * app.post('/v1/ocr', handler);
 * app.post('/v1/pdf', { config: { tollgate: { usageType: 'pdf', cost: (req) => (req.body as { pages: number }).pages } } }, pdfHandler);
 * app.get('/health', { config: { tollgate: false } }, health);
 */
export const tollgateMeter: FastifyPluginAsync<TollgateMeterOptions> = Object.assign(meterPlugin, {
  // What fastify-plugin sets: run in the registering context rather than a child of it.
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'tollgate-meter',
});
