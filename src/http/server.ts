import Fastify, { LogController } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { GatewayConfig } from '../gateway/config.js';
import { gatewayRoutes } from '../gateway/routes.js';
import type { Services } from '../services.js';
import { requireAdmin } from './auth.js';
import { formatValidationErrors, installErrorHandling } from './error-handler.js';
import { adminAlertRoutes, ALERT_SCHEMAS } from './routes/admin-alerts.js';
import { adminAppRoutes } from './routes/admin-apps.js';
import { adminGroupRoutes } from './routes/admin-groups.js';
import { adminKeyRoutes } from './routes/admin-keys.js';
import { adminPlanRoutes } from './routes/admin-plans.js';
import { adminServiceTokenRoutes } from './routes/admin-service-tokens.js';
import { checkRoutes } from './routes/check.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { usageRoutes } from './routes/usage.js';
import { SHARED_SCHEMAS } from './schemas.js';
import type { TypedApp } from './typed-app.js';

/** Headers whose values are secrets: never logged. */
const SECRET_HEADERS = ['authorization', 'x-api-key', 'app_key'];

export interface BuildOptions {
  /** A pino logger configuration, or false for none (tests). */
  logger?: boolean | Record<string, unknown>;
  /** Gateway mode: the routes forwarded to upstreams (`tollgate serve --gateway <file>`). */
  gateway?: GatewayConfig;
}

/**
 * The HTTP application: every route, the error shape, and the OpenAPI
 * document, built from the services it is given. Not yet listening.
 */
export async function buildServer(services: Services, options: BuildOptions = {}): Promise<TypedApp> {
  const app = Fastify({
    logger: options.logger === undefined
      ? { level: services.config.logLevel, redact: SECRET_HEADERS.map((h) => `req.headers["${h}"]`) }
      : options.logger,
    bodyLimit: services.config.bodyLimitBytes,
    // One log line per call would cost more than the call: requests are counted in metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    requestIdHeader: 'x-request-id',
    schemaErrorFormatter: (errs, dataVar) => formatValidationErrors(errs as never, dataVar),
    // No type coercion: a body's null stays null and "5" stays a string (and is refused).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  for (const schema of [...SHARED_SCHEMAS, ...ALERT_SCHEMAS]) app.addSchema(schema);
  // A JSON API: a text body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tollgate',
        version: '0.1.0',
        description: 'Usage metering, quotas and rate limits for APIs: the check API, the Mathpix and Paperguide usage APIs, and the admin API.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Admin token, or a service token for /v1/check.' },
          api_key: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          app_id: { type: 'apiKey', in: 'header', name: 'app_id' },
          app_key: { type: 'apiKey', in: 'header', name: 'app_key' },
        },
      },
    },
  });

  healthRoutes(app, services);
  checkRoutes(app, services);
  await app.register(async (events: TypedApp) => {
    // Event batches carry thousands of objects: parse them with plain JSON.parse (its result is only
    // read field by field, never merged into another object, so a "__proto__" key is harmless).
    events.removeContentTypeParser('application/json');
    events.addContentTypeParser('application/json', { parseAs: 'string' }, events.getDefaultJsonParser('ignore', 'ignore'));
    eventRoutes(events, services);
  });
  usageRoutes(app, services);
  await app.register(async (admin: TypedApp) => {
    admin.addHook('onRequest', requireAdmin(services));
    admin.addHook('onRoute', (route) => {
      route.schema = { ...route.schema, security: [{ bearer: [] }] };
    });
    adminPlanRoutes(admin, services);
    adminGroupRoutes(admin, services);
    adminAppRoutes(admin, services);
    adminKeyRoutes(admin, services);
    adminServiceTokenRoutes(admin, services);
    adminAlertRoutes(admin, services);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Last, in its own context: its routes take raw bodies, which no other route should.
  if (options.gateway !== undefined) await app.register(gatewayRoutes, { services, gateway: options.gateway });
  return app;
}
