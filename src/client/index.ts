/**
 * The Tollgate SDK: a typed client for a Tollgate server (check, event
 * ingest with batching, usage queries, the admin API), and a Fastify plugin
 * and an Express middleware that meter a route in one line, against a
 * remote Tollgate or an embedded store.
 *
 * @example
 * import { Tollgate, tollgateMeter } from 'tollgate/client';
 *
 * const tollgate = new Tollgate({ baseUrl: 'http://127.0.0.1:8080', token: process.env.TOLLGATE_SERVICE_TOKEN });
 * await app.register(tollgateMeter, { usageType: 'image', tollgate });
 */
export { Tollgate, type TollgateOptions } from './client.js';
export { TollgateError, type TollgateErrorCode } from './errors.js';
export type { FetchLike } from './http.js';
export type { AdminApi } from './admin.js';
export type { UsageApi } from './usage.js';
export type { EventsApi } from './events.js';
export { EventBatcher, type BatcherOptions, type BatcherTotals, type FlushReport } from './batcher.js';
export { MAX_EVENTS_PER_REQUEST } from './event-id.js';
export { tollgateMeter, type TollgateMeterOptions } from './fastify-plugin.js';
export { tollgateMiddleware, type MeterableRequest, type TollgateMiddleware } from './express-middleware.js';
export {
  Meter, MeterSetupError, credentialsFromHeaders, verdictFor,
  type Checker, type ErrorBody, type MeterCallOptions, type MeterOptions, type MeterVerdict,
} from './meter-core.js';
// Types only: the embedded mode (SQLite, the server's routes) loads from 'tollgate/embedded', or when a plugin asks for it.
export type { EmbeddedOptions, EmbeddedTollgate } from './embedded.js';
export type * from './types.js';
export type * from './admin-types.js';
