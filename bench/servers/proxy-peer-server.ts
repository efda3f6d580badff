/**
 * The peer of the gateway benchmark: a plain Fastify 5 proxy with
 * @fastify/reply-from, forwarding POST /v1/text to the upstream in
 * BENCH_UPSTREAM_URL. Like the gateway it takes every body as a raw stream
 * (no JSON parsing and re-serialising), so the two differ only by what the
 * gateway adds: authentication, limits, and counting each call durably.
 */
import Fastify from 'fastify';
import replyFrom from '@fastify/reply-from';
import { reportStartFailure, send, stopOnSigterm } from './ipc.js';

try {
  const upstream = process.env.BENCH_UPSTREAM_URL;
  if (upstream === undefined) throw new Error('BENCH_UPSTREAM_URL is not set');
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  await app.register(replyFrom, { base: upstream });
  app.post('/v1/text', (_request, reply) => reply.from());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  await send({ type: 'ready', url });

  stopOnSigterm('proxy-peer-server', () => ({}), () => app.close());
} catch (error) {
  await reportStartFailure(error);
}
