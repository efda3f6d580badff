import { Type } from 'typebox';
import type { Services } from '../../services.js';
import { requireMetricsReader } from '../auth.js';
import { errors } from '../answers.js';
import type { TypedApp } from '../typed-app.js';

/** `GET /metrics`: the Prometheus exposition of this instance's metrics, for the admin or the metrics token. */
export function metricsRoutes(app: TypedApp, services: Services): void {
  app.get('/metrics', {
    onRequest: requireMetricsReader(services),
    schema: {
      operationId: 'getMetrics', tags: ['operations'],
      summary: "This instance's metrics in the Prometheus text format: checks by outcome, latencies, commit batches, backlog, process",
      security: [{ bearer: [] }],
      response: {
        200: { description: 'Prometheus text exposition format 0.0.4.', content: { 'text/plain': { schema: Type.String() } } },
        ...errors(401, 429),
      },
    },
  }, async (_request, reply) => {
    const { contentType, body } = await services.metrics.scrape();
    return reply.type(contentType).send(body);
  });
}
