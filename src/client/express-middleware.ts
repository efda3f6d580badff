import type { IncomingMessage, ServerResponse } from 'node:http';
import { Meter, type MeterOptions } from './meter-core.js';
import type { CheckResult } from './types.js';

/** What the middleware needs of a request: Node's, with the body a parser may have added. */
export type MeterableRequest = IncomingMessage & { body?: any; tollgate?: CheckResult | null };

/** An Express (or Connect, or plain `http`) middleware, with `close()` to release an embedded store. */
export type TollgateMiddleware<Req extends IncomingMessage> =
  ((req: Req, res: ServerResponse, next: (error?: unknown) => void) => void) & { close(): Promise<void> };

/**
 * Meters the routes it is mounted on: each call is checked before the next
 * handler runs, and refused with 401 `unauthorized`, 429 `rate_limited` /
 * `quota_exceeded` (with `Retry-After`) or 402 `insufficient_credits`, in
 * Tollgate's `{"error", "message", "limit"}` shape (`limit`: the name of the
 * limit that refused). Allowed calls carry the RateLimit headers and `req.tollgate` holds
 * the check answer. Errors of the route's setup go to `next(error)`.
 *
 * Typed structurally (Node's request and response), so it needs no Express
 * at run time; pass Express's `Request` as `Req` to type `cost` and
 * `requestArgs` with it.
 *
 * @example
 * app.use(express.json());
 * app.post('/v1/ocr', tollgateMiddleware({ usageType: 'image', tollgate }), handler);
 * app.post('/v1/pdf', tollgateMiddleware<Request>({ usageType: 'pdf', cost: (req) => req.body.pages, tollgate }), pdfHandler);
 */
export function tollgateMiddleware<Req extends IncomingMessage = MeterableRequest>(options: MeterOptions<Req>): TollgateMiddleware<Req> {
  const meter = new Meter<Req>(options);
  const middleware = (req: Req, res: ServerResponse, next: (error?: unknown) => void): void => {
    meter.decide(req).then((verdict) => {
      for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
      (req as MeterableRequest).tollgate = verdict.result;
      if (verdict.allowed) return next();
      res.statusCode = verdict.status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(verdict.body));
    }, next);
  };
  return Object.assign(middleware, { close: () => meter.close() });
}
