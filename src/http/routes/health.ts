import { Type } from 'typebox';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import { answer, errors } from '../answers.js';
import type { TypedApp } from '../typed-app.js';

/** `GET /healthz`: 200 once the store answers, 503 otherwise. */
export function healthRoutes(app: TypedApp, services: Services): void {
  app.get('/healthz', {
    schema: {
      operationId: 'getHealth', tags: ['operations'], summary: 'Liveness and readiness', security: [],
      response: { 200: answer('The server is up and its store answers.', Type.Object({ status: Type.Literal('ok') })), ...errors(503) },
    },
  }, async () => {
    if (!(await services.store.healthy())) throw new ApiError('unavailable', 'The store is not ready.');
    return { status: 'ok' as const };
  });
}
