/**
 * The peer of the scale-out benchmark: what a user would run instead of
 * Tollgate's scale-out mode on several machines. Fastify 5 with
 * rate-limiter-flexible's RateLimiterRedis on a shared Redis
 * (BENCH_REDIS_URL), answering the bench's POST /v1/check body
 * ({ key, usage_type, count }) with one counter per key over a 30-day window:
 * the per-key, monthly-quota-like limit. One consume is one Lua script in
 * Redis (one EVALSHA), the least a shared limiter can do. Nothing is recorded
 * anywhere durable: the count lives in Redis only, so the peer does strictly
 * less than Tollgate, which writes every admitted check to PostgreSQL.
 *
 * The ioredis client has the settings of Tollgate's own (auto-pipelining, no
 * offline queue), so the comparison is between the designs, not the clients.
 */
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { reportStartFailure, send, stopOnSigterm } from './ipc.js';

/** High enough that nothing is refused, like the Tollgate plan (-1): both sides admit every check. */
const POINTS = 1_000_000_000;
const MONTH_S = 30 * 86_400;

try {
  const url = process.env.BENCH_REDIS_URL;
  if (url === undefined || url === '') throw new Error('BENCH_REDIS_URL is required');
  const redis = new Redis(url, { enableOfflineQueue: false, enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('end', () => reject(new Error(`redis at ${url} closed before it was ready`)));
  });
  const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix: 'peer-month', points: POINTS, duration: MONTH_S });

  const app = Fastify({ logger: false });
  app.post('/v1/check', async (request, reply) => {
    const body = request.body as { key?: unknown; usage_type?: unknown; count?: unknown } | undefined;
    if (typeof body?.key !== 'string') return reply.code(400).send({ code: 'invalid_request' });
    const count = typeof body.count === 'number' && body.count > 0 ? body.count : 1;
    try {
      const res = await limiter.consume(body.key, count);
      return { allowed: true, code: 'ok', usage_type: body.usage_type ?? null, remaining: res.remainingPoints };
    } catch (error) {
      // A refusal rejects with the limiter's result; anything else is Redis failing.
      if (!(error instanceof RateLimiterRes)) throw error;
      return reply.code(429).send({ allowed: false, code: 'rate_limited', retry_after_ms: error.msBeforeNext });
    }
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  await send({ type: 'ready', url: address });

  stopOnSigterm('redis-limiter-peer-server', () => ({}), async () => {
    await app.close();
    redis.disconnect();
  });
} catch (error) {
  await reportStartFailure(error);
}
