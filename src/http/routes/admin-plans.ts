import { Type, type Static } from 'typebox';
import { isCurrency } from '../../billing/money.js';
import { MAX_PRICES, pricesFromWire, pricesProblem } from '../../billing/pricing.js';
import { isValidTimeZone } from '../../domain/periods.js';
import type { UsagePrice } from '../../domain/types.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import { answer, Currency, Decimal, errors, Id, Limit, page, PageQuery, pageRequest, planJson, TimeZoneName, UsagePriceSchema } from '../schemas.js';
import type { TypedApp } from '../typed-app.js';

const PlanFields = {
  monthly_quota: Limit('Units per billing month; -1: unlimited.'),
  rate_limit_per_minute: Limit('Units per minute; -1: unlimited.'),
  price_per_call: Type.Optional(Type.Union([Decimal, Type.Null()], { description: 'Price of a unit of every usage type not in `prices`; null: not priced.' })),
  currency: Type.Optional(Currency),
  prices: Type.Optional(Type.Array(UsagePriceSchema, { maxItems: MAX_PRICES, description: 'Prices per usage type; replaces the whole list on a change.' })),
  time_zone: Type.Optional(TimeZoneName('IANA zone of the billing month, e.g. "America/New_York" (an unknown zone is refused); default UTC.')),
};

type PlanBody = Partial<Static<ReturnType<typeof Type.Object<typeof PlanFields>>>>;

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

/** Plans: limits and prices that groups subscribe to. */
export function adminPlanRoutes(app: TypedApp, services: Services): void {
  const { store, clock } = services;

  app.post('/admin/plans', {
    schema: {
      operationId: 'createPlan', tags: ['admin'], summary: 'Create a plan',
      body: Type.Object({ id: Id('Plan id, e.g. "pro".'), ...PlanFields }, { additionalProperties: false }),
      response: { 201: answer('The plan, created.', Type.Ref('Plan')), ...errors(400, 401, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const prices = checkPlan(body);
    const plan = await store.createPlan({
      id: body.id, monthlyQuota: body.monthly_quota, rateLimitPerMinute: body.rate_limit_per_minute,
      pricePerCall: body.price_per_call ?? null, timeZone: body.time_zone ?? 'UTC', currency: body.currency ?? 'USD', prices: prices ?? [],
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
      body: Type.Partial(Type.Object(PlanFields), { additionalProperties: false, minProperties: 1 }),
      response: { 200: answer('The plan as changed; the change applies to the next check.', Type.Ref('Plan')), ...errors(400, 401, 404, 413, 415) },
    },
  }, async (request) => {
    const body = request.body;
    const prices = checkPlan(body);
    const plan = await store.updatePlan(request.params.plan_id, {
      monthlyQuota: body.monthly_quota, rateLimitPerMinute: body.rate_limit_per_minute,
      ...(body.price_per_call !== undefined ? { pricePerCall: body.price_per_call } : {}), timeZone: body.time_zone,
      currency: body.currency, prices,
    }, clock.now());
    return planJson(plan);
  });
}
