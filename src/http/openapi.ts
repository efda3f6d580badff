import type { FastifyInstance, RouteOptions } from 'fastify';
import type { SwaggerOptions } from '@fastify/swagger';
import { VERSION } from '../version.js';

/**
 * What /openapi.json says beyond the routes' own schemas: the document's
 * header (servers, licence, security schemes), the response headers declared
 * once and referenced wherever they are sent, and the rule that every
 * documented operation has its own operationId.
 */

/** Response headers by name, as the document declares them once under components.headers. */
export const RESPONSE_HEADERS = {
  'X-Request-Id': {
    description: "The request's id: every answer carries it, and every log line of the request has it as `reqId`.",
    required: true,
    schema: { type: 'string', examples: ['req-1a2b3c'] },
  },
  'RateLimit-Policy': {
    description: 'The limits that bind the caller (IETF httpapi rate-limit draft): "minute", "app-minute", "month", "app-month", each with `q` units per `w` seconds. Absent when no limit applies.',
    schema: { type: 'string', examples: ['"minute";q=30;w=60, "month";q=1000;w=2595600'] },
  },
  RateLimit: {
    description: 'For each limit of RateLimit-Policy, `r` units remaining and `t` seconds until it resets.',
    schema: { type: 'string', examples: ['"minute";r=29;t=66, "month";r=999;t=801726'] },
  },
  'Retry-After': {
    description: 'Seconds until a retry can succeed: on every 429, and on a refused check that a retry can overcome.',
    schema: { type: 'integer', minimum: 0, examples: [60] },
  },
} as const;

export type ResponseHeader = keyof typeof RESPONSE_HEADERS;

/** What every answer carries, whatever its route and status (src/http/server.ts sets it before anything else runs). */
const EVERY_ANSWER: ResponseHeader[] = ['X-Request-Id'];

/**
 * A response schema with the headers it is sent with, for the document only:
 * @fastify/swagger copies `headers` into the response, and `finishDocument`
 * turns each into a reference to its one declaration.
 */
export function withHeaders<T extends object>(schema: T, headers: ResponseHeader[]): T {
  if (headers.length === 0) return schema;
  return { ...schema, headers: Object.fromEntries(headers.map((name) => [name, { description: RESPONSE_HEADERS[name].description }])) };
}

/** The options of @fastify/swagger: the document's header and components; the paths come from the routes. */
export const SWAGGER_OPTIONS: SwaggerOptions = {
  // Shared schemas keep their $id as their name in the document ("Error", "Plan"), not "def-0".
  refResolver: { buildLocalReference: (json: { $id?: unknown }, _baseUri: unknown, _fragment: unknown, i: number) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Tollgate',
      version: VERSION,
      description: 'Usage metering, quotas and rate limits for APIs: the check API, the Mathpix and Paperguide usage APIs, and the admin API.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    // Relative: the paths are served by the server that serves this document, whatever name it is reached by.
    servers: [{ url: '/', description: 'The Tollgate server that serves this document.' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The admin token; on POST /v1/check and /v1/events also a service token, on /metrics also the metrics token.' },
        api_key: { type: 'apiKey', in: 'header', name: 'x-api-key', description: "A customer's API key (Paperguide style). Or send app_id and app_key instead." },
        app_id: { type: 'apiKey', in: 'header', name: 'app_id', description: "The id of the key's app (Mathpix style), sent together with app_key." },
        app_key: { type: 'apiKey', in: 'header', name: 'app_key', description: "A customer's API key (Mathpix style), sent together with app_id." },
        dashboard_session: {
          type: 'apiKey', in: 'cookie', name: 'tollgate_dashboard',
          description: 'The dashboard session (POST /dashboard/session); requests that change something also need the x-csrf-token header and a same-origin request.',
        },
      },
      headers: RESPONSE_HEADERS,
    },
  },
  transformObject: (document) => {
    if (!('openapiObject' in document)) throw new Error('Tollgate documents its API as OpenAPI 3, not Swagger 2');
    finishDocument(document.openapiObject as Document);
    return document.openapiObject;
  },
};

interface Response { headers?: Record<string, unknown> }
type Document = Record<string, unknown> & { paths?: Record<string, Record<string, { responses?: Record<string, Response> }>> };

/** Every answer's headers, each a reference to its declaration in components.headers. */
export function finishDocument(document: Document): void {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const response of Object.values(operation.responses ?? {})) {
        const names = [...EVERY_ANSWER, ...Object.keys(response.headers ?? {}) as ResponseHeader[]];
        response.headers = Object.fromEntries(names.map((name) => {
          if (!(name in RESPONSE_HEADERS)) throw new Error(`response header "${name}" is not declared in RESPONSE_HEADERS`);
          return [name, { $ref: `#/components/headers/${name}` }];
        }));
      }
    }
  }
}

/** camelCase: a verb and what it acts on, e.g. `createPlan`, `getOcrUsage`. */
const OPERATION_ID = /^[a-z][a-zA-Z0-9]*$/;

/**
 * Every route in the document names its operation (code generators make a
 * function of each), uniquely, in camelCase: checked once every route is
 * registered, so a route added without one stops the server from starting.
 * Install before any route.
 */
export function requireOperationIds(app: FastifyInstance): void {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  app.addHook('onReady', async () => {
    const problems = operationIdProblems(routes);
    if (problems.length > 0) throw new Error(`OpenAPI operationIds: ${problems.join('; ')}`);
  });
}

/** What is wrong with the routes' operationIds, one sentence each; the routes as hooks leave them (hidden ones and HEAD copies are not documented). */
export function operationIdProblems(routes: readonly RouteOptions[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const gets = new Set(routes.filter((r) => [r.method].flat().includes('GET')).map((r) => r.url));
  for (const route of routes) {
    const schema = route.schema as { hide?: boolean; operationId?: unknown } | undefined;
    if (schema?.hide === true) continue;
    const methods = [route.method].flat().filter((m) => !(m === 'HEAD' && gets.has(route.url)));
    if (methods.length === 0) continue;
    const where = `${methods.join(',')} ${route.url}`;
    const id = schema?.operationId;
    if (typeof id !== 'string') {
      problems.push(`${where} has no operationId`);
      continue;
    }
    if (!OPERATION_ID.test(id)) problems.push(`${where}: operationId "${id}" is not camelCase`);
    const other = seen.get(id);
    if (other !== undefined) problems.push(`${where}: operationId "${id}" is already ${other}'s`);
    seen.set(id, where);
  }
  return problems;
}

/** The operationId of a route served again under another prefix: `createPlan` under the dashboard is `dashboardCreatePlan`. */
export function prefixedOperationId(prefix: string, id: unknown): string | undefined {
  return typeof id === 'string' ? `${prefix}${id[0]!.toUpperCase()}${id.slice(1)}` : undefined;
}
