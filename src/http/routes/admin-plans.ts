import { Type } from 'typebox';
import { isCurrency } from '../../billing/money.js';
import { pricesFromWire, pricesProblem } from '../../billing/pricing.js';
import { NewPlanBody, PlanPatchBody, type PlanBody } from '../../contract/plans.js';
import { isValidTimeZone } from '../../domain/periods.js';
import type { Plan, UsagePrice } from '../../domain/types.js';
import { creditsProblem, limitsProblem } from '../../metering/limit-rules.js';
import { creditsFromWire, limitsFromWire } from '../../metering/limits-wire.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import { page, PageQuery } from '../../contract/common.js';
import { answer, errors } from '../answers.js';
import { pageRequest, planJson } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';

/** What the schema cannot say: a known zone and currency, sound tiers. Returns the prices in the model's shape. */
function checkPlan(body: PlanBody): UsagePrice[] | undefined {
  if (body.time_zone !== undefined && !isValidTimeZone(body.time_zone)) {
    throw new ApiError('invalid_request', `body field "time_zone" must be an IANA time zone such as "UTC" or "Asia/Kolkata", got "${body.time_zone}".`);
  }
  if (body.currency !== undefined && !isCurrency(body.currency)) {
    throw new ApiError('invalid_request', `body field "currency" must be an ISO 4217 currency code such as "USD" or "EUR", got "${body.currency}".`);
  }
  if (body.prices === undefined) return undefined;
  const prices = pricesFromWire(body.prices);
  const problem = pricesProblem(prices);
  if (problem !== null) throw new ApiError('invalid_request', problem);
  return prices;
}

/**
 * Named limits and credits by their rules (src/metering/limit-rules.ts).
 * Returns those given, in the model's shape; a limit's scope defaults to `group`.
 */
function checkLimits(body: PlanBody): Partial<Pick<Plan, 'limits' | 'credits'>> {
  const limits = body.limits === undefined ? undefined : limitsFromWire(body.limits, 'group');
  const credits = body.credits === undefined ? undefined : creditsFromWire(body.credits);
  const problem = (limits === undefined ? null : limitsProblem(limits, 'plan')) ?? (credits === undefined ? null : creditsProblem(credits));
  if (problem !== null) throw new ApiError('invalid_request', problem);
  return { limits, credits };
}

/** Plans: limits and prices that groups subscribe to. */
export function adminPlanRoutes(app: TypedApp, services: Services): void {
  const { store, clock } = services;

  app.post('/admin/plans', {
    schema: {
      operationId: 'createPlan', tags: ['admin'], summary: 'Create a plan',
      body: NewPlanBody,
      response: { 201: answer('The plan, created.', Type.Ref('Plan')), ...errors(400, 401, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const prices = checkPlan(body);
    const { limits, credits } = checkLimits(body);
    const plan = await store.createPlan({
      id: body.id, monthlyQuota: body.monthly_quota, rateLimitPerMinute: body.rate_limit_per_minute,
      pricePerCall: body.price_per_call ?? null, timeZone: body.time_zone ?? 'UTC', currency: body.currency ?? 'USD', prices: prices ?? [],
      limits: limits ?? [], credits: credits ?? null,
    }, clock.now());
    return reply.code(201).send(planJson(plan));
  });

  app.get('/admin/plans', {
    schema: {
      operationId: 'listPlans', tags: ['admin'], summary: 'List plans', querystring: PageQuery,
      response: { 200: answer('A page of plans, by id.', page(Type.Ref('Plan'))), ...errors(400, 401) },
    },
  }, async (request) => {
    const result = await store.listPlans(pageRequest(request.query));
    return { items: result.items.map(planJson), next: result.next };
  });

  app.get('/admin/plans/:plan_id', {
    schema: {
      operationId: 'getPlan', tags: ['admin'], summary: 'Show a plan', params: Type.Object({ plan_id: Type.String() }),
      response: { 200: answer('The plan.', Type.Ref('Plan')), ...errors(401, 404) },
    },
  }, async (request) => {
    const plan = await store.getPlan(request.params.plan_id);
    if (plan === null) throw new ApiError('not_found', `No plan with id "${request.params.plan_id}".`);
    return planJson(plan);
  });

  app.patch('/admin/plans/:plan_id', {
    schema: {
      operationId: 'updatePlan', tags: ['admin'], summary: 'Change a plan',
      params: Type.Object({ plan_id: Type.String() }),
      body: PlanPatchBody,
      response: { 200: answer('The plan as changed; the change applies to the next check.', Type.Ref('Plan')), ...errors(400, 401, 404, 413, 415) },
    },
  }, async (request) => {
    const body = request.body;
    const prices = checkPlan(body);
    const { limits, credits } = checkLimits(body);
    const plan = await store.updatePlan(request.params.plan_id, {
      monthlyQuota: body.monthly_quota, rateLimitPerMinute: body.rate_limit_per_minute,
      ...(body.price_per_call !== undefined ? { pricePerCall: body.price_per_call } : {}), timeZone: body.time_zone,
      currency: body.currency, prices, limits, credits,
    }, clock.now());
    return planJson(plan);
  });
}
