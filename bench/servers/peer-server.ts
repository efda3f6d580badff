/**
 * The peer of the check benchmark: a plain Fastify 5 server with
 * @fastify/rate-limit (in-memory store), keyed on the x-api-key header,
 * answering POST /v1/check with a small JSON body. No persistence at all:
 * it is the floor a metering service is compared against.
 */
import Fastify from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { reportStartFailure, send, stopOnSigterm } from './ipc.js';

try {
  const app = Fastify({ logger: false });
  await app.register(rateLimit, {
    // High enough that nothing is refused, like the Tollgate plan (-1).
    max: 1_000_000_000,
    timeWindow: 60_000,
    keyGenerator: (request) => {
      const key = request.headers['x-api-key'];
      return typeof key === 'string' ? key : request.ip;
    },
  });
  app.post('/v1/check', async (request) => {
    const body = request.body as { usage_type?: unknown } | undefined;
    return { allowed: true, code: 'ok', usage_type: typeof body?.usage_type === 'string' ? body.usage_type : null };
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  await send({ type: 'ready', url });

  stopOnSigterm('peer-server', () => ({}), () => app.close());
} catch (error) {
  await reportStartFailure(error);
}
