/**
 * No Tollgate server at all: the store lives in this process, on a data
 * directory (the format `tollgate serve` uses, so it can be served later).
 * The catalogue is managed with the same admin API as over HTTP, and the
 * Fastify plugin meters with it directly.
 *
 *   node dist/examples/embedded-meter.js   # prints a customer key to try
 */
import Fastify from 'fastify';
import { tollgateMeter } from '../src/client/index.js';
import { EmbeddedTollgate } from '../src/client/embedded.js';
import { isMain, type Running } from './support.js';

export interface Options {
  dataDir: string;
  port?: number;
}

export async function main(options: Options): Promise<Running & { key: string }> {
  const tollgate = await EmbeddedTollgate.open({ dataDir: options.dataDir });

  // A plan of 100 images a month, 10 a minute, and one customer with a key.
  const plan = await tollgate.admin.plans.get('free').catch(() => tollgate.admin.plans.create({ id: 'free', monthlyQuota: 100, rateLimitPerMinute: 10 }));
  const group = await tollgate.admin.groups.create({ name: 'Demo customer', planId: plan.id });
  const app = await tollgate.admin.apps.create(group.id);
  const { key } = await tollgate.admin.keys.create(app.appId, { name: 'demo' });

  const api = Fastify();
  await api.register(tollgateMeter, { usageType: 'image', tollgate });
  api.post('/v1/ocr', async (request) => ({ text: 'hello', monthly_used: request.tollgate?.monthlyUsed }));
  const url = await api.listen({ host: '127.0.0.1', port: options.port ?? 0 });

  return {
    url,
    key,
    close: async () => {
      await api.close();
      await tollgate.close();
    },
  };
}

if (isMain(import.meta)) {
  const { url, key } = await main({ dataDir: process.env.TOLLGATE_DATA_DIR ?? './data-embedded', port: 3000 });
  console.log(`Fastify API on ${url}\ncurl -X POST ${url}/v1/ocr -H "x-api-key: ${key}"`);
}
