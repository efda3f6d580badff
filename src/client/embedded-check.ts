import { Value } from 'typebox/value';
import type { Clock } from '../clock.js';
import { rateLimitHeaders } from '../http/rate-limit-headers.js';
import { CheckBody } from '../contract/check.js';
import { checkAnswer, unauthorizedAnswer } from '../metering/check-answer.js';
import { credentialsFromCheckBody } from '../metering/credentials.js';
import { checkCall, type MeteringDeps } from '../metering/meter-call.js';
import { pickRateLimitHeaders } from './check.js';
import { TollgateError } from './errors.js';
import type { CheckInput, CheckResult } from './types.js';
import { fromWire, toWire } from './wire.js';

/**
 * The check decision in this process: the same `checkCall` the HTTP route
 * runs, on the same store, with the same input rules (the route's schema) and
 * the same answer, in the client's shape (rate-limit headers included). What
 * the route would refuse with a 400 is refused here as a 400 TollgateError.
 */
export async function embeddedCheck(deps: MeteringDeps & { clock: Clock }, input: CheckInput): Promise<CheckResult> {
  const body = toWire(input);
  if (!Value.Check(CheckBody, body)) {
    const [first] = Value.Errors(CheckBody, body);
    const field = first?.instancePath.replace(/^\//, '') || 'the check';
    throw new TollgateError(400, 'invalid_request', `"${field}" ${first?.message ?? 'is invalid'}.`);
  }
  // The body as the route reads it (snake_case, checked against its schema above): the credentials are read the same way.
  const credentials = credentialsFromCheckBody(body);
  if (credentials === null) return { ...fromWire(unauthorizedAnswer('Missing customer credentials: send "key", or "appId" and "appKey".')), headers: {} };
  const outcome = await checkCall(deps, {
    credentials,
    usageType: input.usageType,
    cost: input.cost ?? 1,
    ...(input.requestArgs === undefined ? {} : { requestArgs: input.requestArgs }),
    ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
  });
  if (outcome.kind === 'unauthorized') return { ...fromWire(unauthorizedAnswer(outcome.message)), headers: {} };
  const headers = rateLimitHeaders(outcome.result, outcome.period);
  return { ...fromWire(checkAnswer(outcome)), headers: pickRateLimitHeaders((name) => headers[name]) };
}
