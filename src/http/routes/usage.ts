import { limitAnswer } from '../../metering/check-answer.js';
import { stateOf } from '../../domain/metering.js';
import { SHORTHAND } from '../../domain/limits.js';
import { UnavailableError } from '../../domain/errors.js';
import type { FastifyReply, onRequestHookHandler } from 'fastify';
import { DateTime } from 'luxon';
import { Type } from 'typebox';
import { CurrentUsageAnswer, GroupUsageAnswer, OcrUsageAnswer, UsageQueryString } from '../../contract/usage.js';
import { creditsUsage } from '../../usage/credits-usage.js';
import { billingPeriod, isValidTimeZone, type Timespan } from '../../domain/periods.js';
import type { UsageDimension } from '../../domain/types.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import { usageCsv } from '../../usage/usage-csv.js';
import { CSV_CONTENT_TYPE, wantsCsv } from '../csv.js';
import { queryUsage, TooManyPeriodsError, type UsageQuery, type UsageRecord } from '../../usage/usage-query.js';
import { requireCustomer, type Customer } from '../auth.js';
import { currentCharges, statementsOf } from './admin-statements.js';
import { withHeaders, type ResponseHeader } from '../openapi.js';
import { answer, errors } from '../answers.js';
import type { TypedApp } from '../typed-app.js';

/** The usage answer in either form; errors are JSON whatever was asked. */
const OcrUsageResponse = {
  description: 'The usage records, one per period and value of group_by, as JSON or as CSV (a header line, then a line per record with the same fields).',
  content: {
    'application/json': { schema: OcrUsageAnswer },
    'text/csv': { schema: Type.String({ examples: ['from_date,app_id,group_id,usage_type,request_args_hash,count\r\n2026-11-01T04:00:00.000Z,acme-ocr,acme,image,,3\r\n'] }) },
  },
};

/** The admin's answer: the records, with the group's credits in its current period when its plan uses them (JSON only: the CSV is the records). */
const GroupUsageResponse = {
  ...OcrUsageResponse,
  description: `${OcrUsageResponse.description} As JSON, with the group's credits in its current billing period when its plan uses credits.`,
  content: { ...OcrUsageResponse.content, 'application/json': { schema: GroupUsageAnswer } },
};

const MAX_YEAR = 9999;

/** Turns the query string into a usage query, naming the parameter at fault. */
export function parseUsageQuery(query: UsageQueryString, planZone: string, now: number): Omit<UsageQuery, 'groupId'> {
  const zone = query.tz ?? planZone;
  if (!isValidTimeZone(zone)) {
    throw new ApiError('invalid_request', `query parameter "tz" must be an IANA time zone such as "UTC" or "Asia/Kolkata", got "${query.tz}".`);
  }
  const from = query.from_date === undefined ? billingPeriod(now, zone).start : parseInstant('from_date', query.from_date, zone);
  // By default up to and including this very moment: to_date is exclusive.
  const to = query.to_date === undefined ? now + 1 : parseInstant('to_date', query.to_date, zone);
  if (to <= from) {
    throw new ApiError('invalid_request', `query parameter "to_date" (${new Date(to).toISOString()}) must be after "from_date" (${new Date(from).toISOString()}).`);
  }
  return { from, to, groupBy: (query.group_by ?? 'usage_type') as UsageDimension, timespan: (query.timespan ?? 'month') as Timespan, zone };
}

function parseInstant(name: string, value: string, zone: string): number {
  const parsed = DateTime.fromISO(value, { zone });
  if (!parsed.isValid) {
    throw new ApiError('invalid_request', `query parameter "${name}" must be an ISO 8601 date-time such as 2021-01-01T00:00:00.000Z, got "${value}".`);
  }
  if (parsed.toUTC().year < 1970 || parsed.toUTC().year > MAX_YEAR) {
    throw new ApiError('invalid_request', `query parameter "${name}" must fall between the years 1970 and ${MAX_YEAR}, got "${value}".`);
  }
  return parsed.toMillis();
}

/** Runs the query and answers in the form asked for: `format`, else the Accept header, else JSON (with `more`'s fields, if given). */
async function answerUsage(
  services: Services, groupId: string, request: { query: UsageQueryString; headers: { accept?: string } }, reply: FastifyReply, planZone: string,
  more: () => Promise<object> = async () => ({}),
) {
  const query = parseUsageQuery(request.query, planZone, services.clock.now());
  let records: UsageRecord[];
  try {
    records = await queryUsage(services.store, { ...query, groupId });
  } catch (error) {
    if (error instanceof TooManyPeriodsError) throw new ApiError('invalid_request', error.message);
    throw error;
  }
  void reply.header('vary', 'accept');
  if (wantsCsv(request.query.format, request.headers.accept)) return reply.type(CSV_CONTENT_TYPE).send(usageCsv(records));
  return { ocr_usage: records, ...await more() };
}

/** The customer's credentials: `x-api-key`, or `app_id` and `app_key` together. */
const CUSTOMER_SECURITY: Array<Record<string, string[]>> = [{ api_key: [] }, { app_id: [], app_key: [] }];

const RATE_LIMIT_HEADERS: ResponseHeader[] = ['RateLimit-Policy', 'RateLimit'];

/**
 * A customer route's answers: each call counts against the per-minute
 * limits, so the answer and its refusal (429) say where the caller stands.
 */
function customerResponses(success: object, failures: Record<number, object>): Record<number, object> {
  return { ...failures, 200: withHeaders(success, RATE_LIMIT_HEADERS), 429: withHeaders(failures[429]!, [...RATE_LIMIT_HEADERS, 'Retry-After']) };
}

/**
 * The two usage APIs of the seed documents, for customers with their own key,
 * and the same query for the provider over any group.
 */
export function usageRoutes(app: TypedApp, services: Services): void {
  customerUsageRoutes(app, services, { prefix: '', onRequest: requireCustomer(services) });
}

/**
 * The customer's two usage endpoints under `prefix`, with `onRequest`
 * authenticating the customer (the key headers, or the dashboard's session).
 */
export function customerUsageRoutes(app: TypedApp, services: Services, options: { prefix: string; onRequest: onRequestHookHandler }): void {
  const customer = (request: { customer?: Customer }): Customer => request.customer!;
  const statements = statementsOf(services);

  app.get(`${options.prefix}/v3/ocr-usage`, {
    onRequest: options.onRequest,
    schema: {
      operationId: 'getOcrUsage', tags: ['usage'], summary: "Usage over time for the caller's group, grouped by usage type, request arguments hash or app",
      security: CUSTOMER_SECURITY,
      querystring: UsageQueryString,
      response: customerResponses(OcrUsageResponse, errors(400, 401, 429, 503)),
    },
  }, async (request, reply) => {
    const { context } = customer(request);
    return answerUsage(services, context.group.id, request, reply, context.plan.timeZone);
  });

  app.get(`${options.prefix}/v1/usage`, {
    onRequest: options.onRequest,
    schema: {
      operationId: 'getUsage', tags: ['usage'], summary: "The caller's usage in the current billing period, and the plan's limits",
      security: CUSTOMER_SECURITY,
      response: customerResponses(answer("The group's units in the current billing period, its plan's limits, and the charges so far.", CurrentUsageAnswer), errors(401, 429, 503)),
    },
  }, async (request) => {
    const { context, meter, period } = customer(request);
    // The seed's fields come from the counters, which fail-open mode keeps serving through a store outage; the charges and credits need the store.
    const unlessUnreachable = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await read();
      } catch (error) {
        if (error instanceof UnavailableError) return undefined;
        throw error;
      }
    };
    const [charges, credits] = await Promise.all([
      unlessUnreachable(() => currentCharges(statements, services, context.group, context.plan)),
      unlessUnreachable(() => creditsUsage(services.store, context.group, context.plan, services.clock.now())),
    ]);
    return {
      monthly_used: stateOf(meter, SHORTHAND.groupMonth)?.used ?? 0,
      monthly_quota: stateOf(meter, SHORTHAND.groupMonth)?.units ?? -1,
      rate_limit_per_minute: stateOf(meter, SHORTHAND.groupMinute)?.units ?? -1,
      period_start: new Date(period.start).toISOString(),
      period_end: new Date(period.end).toISOString(),
      ...(charges === undefined ? {} : { current_charges: charges }),
      limits: meter.limits.filter((state) => state.units >= 0).map(limitAnswer),
      ...(credits === undefined ? {} : { credits }),
    };
  });
}

/** The usage query over any group, for the provider; registered where the admin's authentication runs. */
export function adminUsageRoutes(app: TypedApp, services: Services): void {
  app.get('/admin/groups/:group_id/usage', {
    schema: {
      operationId: 'getGroupUsage', tags: ['admin'], summary: "A group's usage over time (the same query as /v3/ocr-usage)",
      params: Type.Object({ group_id: Type.String() }),
      querystring: UsageQueryString,
      response: { 200: GroupUsageResponse, ...errors(400, 401, 404, 429, 503) },
    },
  }, async (request, reply) => {
    const group = await services.store.getGroup(request.params.group_id);
    if (group === null) throw new ApiError('not_found', `No group with id "${request.params.group_id}".`);
    const plan = (await services.store.getPlan(group.planId))!;
    return answerUsage(services, group.id, request, reply, plan.timeZone, async () => {
      const credits = await creditsUsage(services.store, group, plan, services.clock.now());
      return credits === undefined ? {} : { credits };
    });
  });
}
