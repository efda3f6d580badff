/**
 * An Express API metered with one middleware per route: each call is checked
 * with Tollgate before the handler runs, refused with 401 or 429 in
 * Tollgate's `{"error", "message"}` shape, and answered with the RateLimit
 * headers.
 *
 *   TOLLGATE_URL=http://127.0.0.1:8080 TOLLGATE_TOKEN=tgs_… node dist/examples/express-meter.js
 *   curl -X POST localhost:3000/v1/ocr -H "x-api-key: $KEY"
 */
import { createServer } from 'node:http';
import express, { type Request } from 'express';
import { Tollgate, tollgateMiddleware, type MeterableRequest } from '../src/client/index.js';
import { isMain, listen, tollgateFromEnv, type Running } from './support.js';

export interface Options {
  tollgateUrl: string;
  /** A service token: it may call the check API and nothing else. */
  token: string;
  port?: number;
}

export async function main(options: Options): Promise<Running> {
  const tollgate = new Tollgate({ baseUrl: options.tollgateUrl, token: options.token });
  const app = express();
  app.use(express.json());

  app.post('/v1/ocr', tollgateMiddleware({ usageType: 'image', tollgate }), (req, res) => {
    res.json({ text: 'hello', monthly_used: (req as MeterableRequest).tollgate?.monthlyUsed });
  });

  app.post('/v1/pdf', tollgateMiddleware<Request>({ usageType: 'pdf', cost: (req) => req.body.pages, tollgate }), (req, res) => {
    res.json({ pages: req.body.pages, monthly_used: (req as MeterableRequest).tollgate?.monthlyUsed });
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  return listen(createServer(app), options.port);
}

if (isMain(import.meta)) console.log(`Express API on ${(await main({ ...tollgateFromEnv(), port: 3000 })).url}`);
