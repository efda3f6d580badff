import type { ServerOptions } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type RouteOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { GatewayConfig } from '../gateway/config.js';
import { gatewayRoutes } from '../gateway/routes.js';
import { secretMasker } from '../domain/secrets.js';
import { ApiError } from '../errors.js';
import { loggerOptions, requestId } from '../observability/logging.js';
import type { Services } from '../services.js';
import { requireAdmin } from './auth.js';
import { answerOnSocket, clientErrorHandler, formatValidationErrors, installErrorHandling } from './error-handler.js';
import { requireOperationIds, SWAGGER_OPTIONS } from './openapi.js';
import { addSecurityHeaders, DOCS_POLICY } from './security-headers.js';
import { adminAlertRoutes } from './routes/admin-alerts.js';
import { adminAppRoutes } from './routes/admin-apps.js';
import { adminCreditRoutes } from './routes/admin-credits.js';
import { adminGroupRoutes } from './routes/admin-groups.js';
import { adminKeyRoutes } from './routes/admin-keys.js';
import { adminPlanRoutes } from './routes/admin-plans.js';
import { adminServiceTokenRoutes } from './routes/admin-service-tokens.js';
import { adminStatementRoutes } from './routes/admin-statements.js';
import { checkRoutes } from './routes/check.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { adminUsageRoutes, usageRoutes } from './routes/usage.js';
import { errors, SHARED_SCHEMAS } from './answers.js';
import { secureContextOptions, type CertificatePair } from './tls-certificate.js';
import type { TypedApp } from './typed-app.js';

export interface BuildOptions {
  /** False for no logs at all (tests); by default JSON lines at the configured level, secrets redacted. */
  logger?: false;
  /** Where log lines go instead of stdout. */
  logStream?: { write(line: string): void };
  /** Gateway mode: the routes forwarded to upstreams (`tollgate serve --gateway <file>`). */
  gateway?: GatewayConfig;
  /** Hears of every route as it is registered, hidden ones included: what the OpenAPI document is checked against. */
  onRoute?: (route: RouteOptions) => void;
  /** HTTPS with this certificate and key (TOLLGATE_TLS_CERT, TOLLGATE_TLS_KEY); plain HTTP without. */
  tls?: CertificatePair;
}

/**
 * The HTTP application: every route, the error shape, and the OpenAPI
 * document, built from the services it is given. Not yet listening.
 */
export async function buildServer(services: Services, options: BuildOptions = {}): Promise<TypedApp> {
  const app = Fastify({
    logger: options.logger === false
      ? false
      : { ...loggerOptions(services.config.logLevel), ...(options.logStream === undefined ? {} : { stream: options.logStream }) },
    bodyLimit: services.config.bodyLimitBytes,
    // The client's address (request.ip: the failed-authentication throttle's key) comes from X-Forwarded-For only from trusted proxies.
    ...(services.config.trustProxy === undefined ? {} : { trustProxy: trustProxy(services.config.trustProxy) }),
    // Fastify's two lines per call would cost more than the call: requests are counted in metrics, and logged once at debug level.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    clientErrorHandler,
    ...nodeServerOptions(options.tls),
    requestIdHeader: false,
    genReqId: requestId,
    schemaErrorFormatter: (errs, dataVar) => formatValidationErrors(errs as never, dataVar),
    // No type coercion: a body's null stays null and "5" stays a string (and is refused).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  if (options.onRoute !== undefined) app.addHook('onRoute', options.onRoute);
  requireOperationIds(app);
  // A flood of connections (idle ones held open, say) is cut off at the door rather than exhausting file descriptors and memory.
  app.server.maxConnections = services.config.maxConnections;
  // An Expect other than 100-continue would get Node's bare 417; RFC 9110 lets a server ignore it, and the request is served as usual.
  app.server.on('checkExpectation', (request, response) => app.routing(request, response));
  // Node would close a CONNECT's connection without a word: Tollgate is no proxy, and says so.
  app.server.on('connect', (request: { url?: string }, socket: Duplex) => answerOnSocket(socket, new ApiError('method_not_allowed', `CONNECT ${request.url ?? ''} is not allowed: Tollgate is not a proxy.`)));

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  // A JSON API: a text body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  const maskSecrets = secretMasker(services.config.keyPrefix);
  installErrorHandling(app, maskSecrets);
  installRequestTracking(app, services, maskSecrets);

  await app.register(swagger, SWAGGER_OPTIONS);

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
      // Every admin route can refuse an address that failed to authenticate too often.
      route.schema = { ...route.schema, security: [{ bearer: [] }], response: { ...errors(429), ...route.schema?.response as object } };
    });
    adminPlanRoutes(admin, services);
    adminGroupRoutes(admin, services);
    adminAppRoutes(admin, services);
    adminKeyRoutes(admin, services);
    adminServiceTokenRoutes(admin, services);
    adminStatementRoutes(admin, services);
    adminAlertRoutes(admin, services);
    adminCreditRoutes(admin, services);
    adminUsageRoutes(admin, services);
  });

  metricsRoutes(app, services);
  await app.register(async (dashboard: TypedApp) => dashboardRoutes(dashboard, services));

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(async (docs) => {
    addSecurityHeaders(docs, DOCS_POLICY);
    await docs.register(swaggerUi, {
      routePrefix: '/docs',
      // Everything the page loads is served from here (no CDN, no online validator): it works without internet access.
      uiConfig: { deepLinking: true, tryItOutEnabled: false },
    });
  });
  // Last, in its own context: its routes take raw bodies, which no other route should.
  if (options.gateway !== undefined) await app.register(gatewayRoutes, { services, gateway: options.gateway });
  return app;
}

/**
 * The options Fastify hands Node's server: HTTPS with the certificate, or
 * plain HTTP. A request without Host is refused by installErrorHandling, in
 * the error shape, rather than by Node with an empty 400; Fastify passes
 * `http` to Node only for plain HTTP, so over HTTPS that option goes with the
 * certificate. The app stays typed as a plain HTTP server's: an https.Server
 * hands handlers the same IncomingMessage and ServerResponse.
 */
function nodeServerOptions(tls: CertificatePair | undefined): { http: ServerOptions } | { https: null } {
  const http: ServerOptions = { requireHostHeader: false };
  if (tls === undefined) return { http };
  const https: HttpsServerOptions = { ...secureContextOptions(tls), ...http };
  return { https: https as unknown as null };
}

/** The `trustProxy` setting as Fastify takes it: a number of hops is the nearest `hops` addresses of the chain. */
function trustProxy(setting: boolean | number | string): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}

/**
 * Every answer carries its request id in `X-Request-Id` (every log line of
 * the request has it as `reqId`), and every request is timed into the HTTP
 * histogram by its route's pattern; at debug level it is also logged, once.
 */
function installRequestTracking(app: TypedApp, services: Services, maskSecrets: (text: string) => string): void {
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  const logRequests = services.config.logLevel === 'debug' || services.config.logLevel === 'trace';
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    services.metrics.httpRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (logRequests) {
      // The path without its query string (a gateway's upstream may take credentials there), nor a key pasted into it.
      request.log.debug({ method: request.method, path: maskSecrets(request.url.split('?')[0]!), route, status: reply.statusCode, ms: reply.elapsedTime }, 'request completed');
    }
    done();
  });
}
