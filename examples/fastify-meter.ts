/**
 * A Fastify API metered in one line: every route is checked with Tollgate
 * before its handler runs, refused with 401 or 429 in Tollgate's
 * `{"error", "message"}` shape, and answered with the RateLimit headers.
 * A route may set its own usage type and cost, or opt out.
 *
 *   TOLLGATE_URL=http://127.0.0.1:8080 TOLLGATE_TOKEN=tgs_… node dist/examples/fastify-meter.js
 *   curl -X POST localhost:3000/v1/pdf -H "x-api-key: $KEY" -H 'content-type: application/json' -d '{"pages": 12}'
 */
import Fastify from 'fastify';
import { Tollgate, tollgateMeter } from '../src/client/index.js';
import { isMain, tollgateFromEnv, type Running } from './support.js';

export interface Options {
  tollgateUrl: string;
  /** A service token: it may call the check API and nothing else. */
  token: string;
  port?: number;
}

interface PdfJob {
  pages: number;
  lang?: string;
}

export async function main(options: Options): Promise<Running> {
  const tollgate = new Tollgate({ baseUrl: options.tollgateUrl, token: options.token });
  const app = Fastify();

  await app.register(tollgateMeter, { usageType: 'image', tollgate });

  // 1 unit of "image" (the plugin's default).
  app.post('/v1/ocr', async (request) => ({ text: 'hello', monthly_used: request.tollgate?.monthlyUsed }));

  // A unit per page of "pdf", with the language in the usage records' request_args_hash.
  app.post('/v1/pdf', {
    config: {
      tollgate: {
        usageType: 'pdf',
        cost: (request) => (request.body as PdfJob).pages,
        requestArgs: (request) => ({ lang: (request.body as PdfJob).lang ?? 'en' }),
      },
    },
  }, async (request) => ({ pages: (request.body as PdfJob).pages, monthly_used: request.tollgate?.monthlyUsed }));

  app.get('/healthz', { config: { tollgate: false } }, async () => ({ status: 'ok' }));

  const url = await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  return { url, close: () => app.close() };
}

if (isMain(import.meta)) console.log(`Fastify API on ${(await main({ ...tollgateFromEnv(), port: 3000 })).url}`);
