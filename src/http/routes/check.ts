import { CheckAnswerSchema, CheckBody } from '../../contract/check.js';
import { checkAnswer, unauthorizedAnswer } from '../../metering/check-answer.js';
import { credentialsFromCheckBody } from '../../metering/credentials.js';
import { checkCall, type CheckOutcome } from '../../metering/meter-call.js';
import { meteredOutcome } from '../../observability/metrics.js';
import type { Services } from '../../services.js';
import { requireServiceCaller } from '../auth.js';
import { rateLimitHeaders } from '../rate-limit-headers.js';
import { answer, errors } from '../answers.js';
import type { TypedApp } from '../typed-app.js';

/**
 * `POST /v1/check`: may this customer make this call? If so it is counted,
 * durably, before the answer. Always 200 when the check itself worked.
 */
export function checkRoutes(app: TypedApp, services: Services): void {
  app.post('/v1/check', {
    onRequest: requireServiceCaller(services),
    schema: {
      operationId: 'check', tags: ['metering'], summary: "Meter a customer's call: authenticate, rate-limit, apply the quota, record",
      security: [{ bearer: [] }],
      body: CheckBody,
      response: {
        200: answer(
          'The verdict, allowed or not (a refusal is an answer, not an error); when allowed, the call is recorded durably before this answer. '
            + 'RateLimit-Policy and RateLimit describe the limits that bind the customer, Retry-After a refusal that a retry can overcome.',
          CheckAnswerSchema, ['RateLimit-Policy', 'RateLimit', 'Retry-After'],
        ),
        ...errors(400, 401, 413, 415, 429, 503),
      },
    },
  }, async (request, reply) => {
    const body = request.body;
    const credentials = credentialsFromCheckBody(body);
    if (credentials === null) {
      return unauthorizedAnswer('Missing customer credentials: send "key", or "app_id" and "app_key".');
    }
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let outcome: CheckOutcome;
    try {
      outcome = await checkCall(services, {
        credentials,
        usageType: body.usage_type,
        cost: body.cost ?? 1,
        ...(body.request_args === undefined ? {} : { requestArgs: body.request_args as Record<string, unknown> }),
        ...(body.idempotency_key === undefined ? {} : { idempotencyKey: body.idempotency_key }),
      });
    } catch (error) {
      services.metrics.check('check_api', 'error', seconds());
      throw error;
    }
    services.metrics.check('check_api', outcome.kind === 'unauthorized' ? 'unauthorized' : meteredOutcome(outcome.result), seconds());
    if (outcome.kind === 'unauthorized') return unauthorizedAnswer(outcome.message);
    void reply.headers(rateLimitHeaders(outcome.result, outcome.period));
    return checkAnswer(outcome);
  });
}
