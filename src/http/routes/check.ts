import { Type } from 'typebox';
import { checkAnswer, unauthorizedAnswer } from '../../metering/check-answer.js';
import { credentialsFromCheckBody } from '../../metering/credentials.js';
import { checkCall, type CheckOutcome } from '../../metering/meter-call.js';
import { meteredOutcome } from '../../observability/metrics.js';
import { effectiveLimits } from '../../metering/limits.js';
import type { Services } from '../../services.js';
import { requireServiceCaller } from '../auth.js';
import { NO_NUL_PATTERN } from '../patterns.js';
import { rateLimitHeaders } from '../rate-limit-headers.js';
import { answer, errors, Id } from '../schemas.js';
import type { TypedApp } from '../typed-app.js';

const Secret = Type.String({ minLength: 1, maxLength: 256 });

/** What `POST /v1/check` accepts; the SDK's embedded mode checks its input against it too. */
export const CheckBody = Type.Object({
  key: Type.Optional(Type.String({ ...Secret, description: "The customer's API key, as they sent it (e.g. in x-api-key). Or send app_id and app_key." })),
  app_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "The key's app (Mathpix style), with app_key; used when key is absent." })),
  app_key: Type.Optional(Type.String({ ...Secret, description: "The customer's API key (Mathpix style), with app_id; used when key is absent." })),
  usage_type: Id('Service kind, e.g. "image" or "image-async".'),
  cost: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, default: 1, description: 'Units this call consumes.' })),
  request_args: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Arguments of the call; hashed into request_args_hash.' })),
  idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: NO_NUL_PATTERN, description: 'A retry with the same key gets the first answer and is counted once.' })),
}, {
  additionalProperties: false,
  description: "The customer's credentials are `key`, or `app_id` and `app_key` (`key` is used when both are sent). "
    + 'A body with neither is not refused: it is answered like a wrong key, `allowed: false` with `code: unauthorized`.',
  examples: [
    { key: 'tg_F5CaRruWhC4ia3MhGuT1M1fYcTNos8esK', usage_type: 'image', request_args: { formats: ['text'] } },
    { app_id: 'acme-ocr', app_key: 'tg_F5CaRruWhC4ia3MhGuT1M1fYcTNos8esK', usage_type: 'image-async', cost: 5, idempotency_key: 'job-7f3a' },
  ],
});

const RateLimitState = Type.Object({
  limit: Type.Integer({ description: 'Units per minute; -1: unlimited.' }),
  remaining: Type.Integer(),
  reset: Type.Integer({ description: 'Seconds until the window is empty again.' }),
});

/** The JSON schema of `CheckAnswer` (src/metering/check-answer.ts), for validation and the OpenAPI document. */
const CheckAnswerSchema = Type.Object({
  allowed: Type.Boolean(),
  code: Type.Enum(['ok', 'rate_limited', 'quota_exceeded', 'unauthorized']),
  message: Type.String(),
  group_id: Type.Union([Type.String(), Type.Null()]),
  app_id: Type.Union([Type.String(), Type.Null()]),
  key_id: Type.Union([Type.String(), Type.Null()]),
  monthly_used: Type.Union([Type.Integer(), Type.Null()], { description: "The group's units in the current billing period." }),
  monthly_quota: Type.Union([Type.Integer(), Type.Null()], { description: "The group's plan quota; -1: unlimited." }),
  rate_limit: Type.Union([RateLimitState, Type.Null()]),
  app: Type.Union([Type.Object({
    monthly_used: Type.Integer(),
    monthly_quota: Type.Integer({ description: "The app's own quota; -1: none." }),
    rate_limit_per_minute: Type.Integer({ description: "The app's own per-minute limit; -1: none." }),
  }), Type.Null()]),
  period: Type.Union([Type.Object({ from_date: Type.String(), to_date: Type.String() }), Type.Null()]),
  retry_after: Type.Union([Type.Integer(), Type.Null()], { description: 'Seconds until a retry can succeed; null when allowed or never.' }),
  request_args_hash: Type.Union([Type.String(), Type.Null()]),
  replayed: Type.Boolean({ description: 'True when this is the stored answer to an earlier call with the same idempotency_key.' }),
});


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
    void reply.headers(rateLimitHeaders(outcome.result, effectiveLimits(outcome.context), outcome.period, outcome.now));
    return checkAnswer(outcome);
  });
}
