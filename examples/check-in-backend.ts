/**
 * A provider's backend that asks Tollgate before doing the work. Each call to
 * `POST /v1/ocr` is checked (and counted) with `tollgate.check`; only an
 * allowed call is served. A refusal reaches the customer as Tollgate phrased
 * it, with its Retry-After, and a customer's `Idempotency-Key` makes a
 * retried call free.
 *
 *   TOLLGATE_URL=http://127.0.0.1:8080 TOLLGATE_TOKEN=tgs_… node dist/examples/check-in-backend.js
 *   curl -X POST localhost:3000/v1/ocr -H "x-api-key: $KEY" -d '{"src": "https://example.com/a.png"}'
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Tollgate } from '../src/client/index.js';
import { isMain, listen, tollgateFromEnv, type Running } from './support.js';

export interface Options {
  tollgateUrl: string;
  /** A service token: it may call the check API and nothing else. */
  token: string;
  port?: number;
}

export async function main(options: Options): Promise<Running> {
  const tollgate = new Tollgate({ baseUrl: options.tollgateUrl, token: options.token });

  async function ocr(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const apiKey = req.headers['x-api-key'];
    if (typeof apiKey !== 'string') return send(res, 401, { error: 'unauthorized', message: 'Send your API key in the x-api-key header.' });
    const body = JSON.parse((await readBody(req)) || '{}') as { src?: string; formats?: string[] };
    const retryOf = req.headers['idempotency-key'];

    const check = await tollgate.check({
      key: apiKey,
      usageType: 'image',
      requestArgs: { formats: body.formats ?? ['text'] },
      ...(typeof retryOf === 'string' ? { idempotencyKey: retryOf } : {}),
    });
    if (!check.allowed) {
      const status = check.code === 'unauthorized' ? 401 : 429;
      return send(res, status, { error: check.code, message: check.message }, check.headers);
    }

    // Only now is the work done: the call is already counted, durably.
    const text = `text of ${body.src ?? 'the image'}`;
    send(res, 200, { text, monthly_used: check.monthlyUsed, replayed: check.replayed }, check.headers);
  }

  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/ocr') return send(res, 404, { error: 'not_found', message: 'Try POST /v1/ocr.' });
    ocr(req, res).catch(() => send(res, 503, { error: 'unavailable', message: 'Please try again later.' }));
  });
  return listen(server, options.port);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | undefined> = {}): void {
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

if (isMain(import.meta)) console.log(`OCR backend on ${(await main({ ...tollgateFromEnv(), port: 3000 })).url}`);
