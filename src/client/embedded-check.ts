import type { Clock } from '../clock.js';
import { denialMessage } from '../http/routes/check.js';
import { rateLimitHeaders, tightestWindow } from '../http/rate-limit-headers.js';
import { IdPattern } from '../http/schemas.js';
import type { Credentials as ServerCredentials } from '../metering/credentials.js';
import { effectiveLimits } from '../metering/limits.js';
import { checkCall, type CheckOutcome, type MeteringDeps } from '../metering/meter-call.js';
import { pickRateLimitHeaders } from './check.js';
import { TollgateError } from './errors.js';
import type { CheckInput, CheckResult } from './types.js';

const USAGE_TYPE = new RegExp(IdPattern);
const MAX_COST = 1_000_000_000;

/**
 * The check decision in this process: the same `checkCall` the HTTP route
 * runs, on the same store, answered in the same shape as the client's
 * `check` (rate-limit headers included). What the HTTP route's schema would
 * refuse is refused here too, as a 400 `invalid_request` TollgateError.
 */
export async function embeddedCheck(deps: MeteringDeps & { clock: Clock }, input: CheckInput): Promise<CheckResult> {
  const credentials = validate(input);
  if (credentials === null) return unauthorized('Missing customer credentials: send "key", or "appId" and "appKey".');
  const outcome = await checkCall(deps, {
    credentials,
    usageType: input.usageType,
    cost: input.cost ?? 1,
    ...(input.requestArgs === undefined ? {} : { requestArgs: input.requestArgs }),
    ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
  });
  return outcome.kind === 'unauthorized' ? unauthorized(outcome.message) : metered(outcome, deps.clock.now());
}

function validate(input: CheckInput): ServerCredentials | null {
  const invalid = (message: string) => new TollgateError(400, 'invalid_request', message);
  const text = (value: unknown, max: number) => typeof value === 'string' && value.length >= 1 && value.length <= max;
  if (typeof input.usageType !== 'string' || !USAGE_TYPE.test(input.usageType)) {
    throw invalid('"usageType" must be 1 to 64 letters, digits or ._:- starting with a letter or digit.');
  }
  if (input.cost !== undefined && !(Number.isInteger(input.cost) && input.cost >= 1 && input.cost <= MAX_COST)) {
    throw invalid(`"cost" must be a whole number from 1 to ${MAX_COST}.`);
  }
  if (input.requestArgs !== undefined && (input.requestArgs === null || typeof input.requestArgs !== 'object' || Array.isArray(input.requestArgs))) {
    throw invalid('"requestArgs" must be an object.');
  }
  if (input.idempotencyKey !== undefined && !text(input.idempotencyKey, 255)) throw invalid('"idempotencyKey" must be 1 to 255 characters.');
  const given = input as Partial<{ key: unknown; appId: unknown; appKey: unknown }>;
  if (given.key !== undefined) {
    if (!text(given.key, 256)) throw invalid('"key" must be 1 to 256 characters.');
    return { key: given.key as string };
  }
  if (given.appId === undefined || given.appKey === undefined) return null;
  if (!text(given.appId, 64) || !text(given.appKey, 256)) throw invalid('"appId" must be 1 to 64 characters and "appKey" 1 to 256.');
  return { appId: given.appId as string, appKey: given.appKey as string };
}

function unauthorized(message: string): CheckResult {
  return {
    allowed: false, code: 'unauthorized', message, groupId: null, appId: null, keyId: null, monthlyUsed: null, monthlyQuota: null,
    rateLimit: null, app: null, period: null, retryAfter: null, requestArgsHash: null, replayed: false, headers: {},
  };
}

function metered(outcome: Extract<CheckOutcome, { kind: 'metered' }>, now: number): CheckResult {
  const { context, result, period } = outcome;
  const headers = rateLimitHeaders(result, effectiveLimits(context), period, now);
  return {
    allowed: result.allowed,
    code: result.code,
    message: denialMessage(outcome),
    groupId: context.group.id,
    appId: context.app.id,
    keyId: context.key.id,
    monthlyUsed: result.groupUsed,
    monthlyQuota: context.plan.monthlyQuota,
    rateLimit: tightestWindow(result),
    app: { monthlyUsed: result.appUsed, monthlyQuota: context.app.monthlyQuota ?? -1, rateLimitPerMinute: context.app.rateLimitPerMinute ?? -1 },
    period: { fromDate: new Date(period.start).toISOString(), toDate: new Date(period.end).toISOString() },
    retryAfter: result.retryAfterMs === null ? null : Math.ceil(result.retryAfterMs / 1000),
    requestArgsHash: outcome.requestArgsHash,
    replayed: result.replayed,
    headers: pickRateLimitHeaders((name) => headers[name]),
  };
}
