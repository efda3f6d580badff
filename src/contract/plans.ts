import { Type, type Static } from 'typebox';
import { Currency, Decimal, Id, Limit, TimeZoneName, Timestamp, UsageType } from './common.js';
import { CreditsInput, CreditsSchema, LimitInput, Limits, LimitSchema } from './limits.js';

/** Plans: limits and prices that groups subscribe to. */

/** At most this many prices per plan. */
export const MAX_PRICES = 200;

export const PriceTierSchema = Type.Object({
  up_to: Type.Union([Type.Integer({ minimum: 1, maximum: 1e15 }), Type.Null()], {
    description: "The tier's last unit, counted over the group's units of the usage type in the period; null for the last, open-ended tier.",
  }),
  unit_price: Decimal,
}, { additionalProperties: false });

export const UsagePriceSchema = Type.Object({
  usage_type: UsageType('The usage type this price applies to.'),
  unit_price: Type.Optional(Decimal),
  tiers: Type.Optional(Type.Array(PriceTierSchema, { minItems: 1, maxItems: 20, description: 'Graduated tiers, ascending; or give `unit_price`.' })),
}, { additionalProperties: false, description: 'A flat `unit_price`, or graduated `tiers`.' });

export const PlanSchema = Type.Object({
  id: Type.String(),
  monthly_quota: Type.Integer({ description: 'Units per billing month; -1: unlimited.' }),
  rate_limit_per_minute: Type.Integer({ description: 'Units per minute (sliding window); -1: unlimited.' }),
  price_per_call: Type.Union([Type.String(), Type.Null()], { description: 'Price of a unit of every usage type that `prices` does not list; null: those are not priced.' }),
  currency: Currency,
  prices: Type.Array(UsagePriceSchema, { description: 'Prices of particular usage types: flat or graduated.' }),
  time_zone: Type.String({ description: 'IANA zone that fixes the edges of the billing month.' }),
  limits: Type.Array(LimitSchema, { description: 'Named limits beside the shorthand `monthly_quota` (the limit "month") and `rate_limit_per_minute` ("minute"); empty: none.' }),
  credits: Type.Union([CreditsSchema, Type.Null()], { description: 'What usage costs in credits; null: the plan uses none.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { $id: 'Plan' });

const PlanFields = {
  monthly_quota: Limit('Units per billing month; -1: unlimited.'),
  rate_limit_per_minute: Limit('Units per minute; -1: unlimited.'),
  price_per_call: Type.Optional(Type.Union([Decimal, Type.Null()], { description: 'Price of a unit of every usage type not in `prices`; null: not priced.' })),
  currency: Type.Optional(Currency),
  prices: Type.Optional(Type.Array(UsagePriceSchema, { maxItems: MAX_PRICES, description: 'Prices per usage type; replaces the whole list on a change.' })),
  time_zone: Type.Optional(TimeZoneName('IANA zone of the billing month, e.g. "America/New_York" (an unknown zone is refused); default UTC.')),
  limits: Type.Optional(Limits(LimitInput, 'Named limits, names unique in the plan; replaces the whole list on a change; default none.')),
  credits: Type.Optional(Type.Union([CreditsInput, Type.Null()], { description: 'What usage costs in credits; null or absent: none.' })),
};

/** `POST /admin/plans`. */
export const NewPlanBody = Type.Object({ id: Id('Plan id, e.g. "pro".'), ...PlanFields }, { additionalProperties: false });

/** `PATCH /admin/plans/{plan_id}`: any of the plan's fields. */
export const PlanPatchBody = Type.Partial(Type.Object(PlanFields), { additionalProperties: false, minProperties: 1 });

/** The plan fields of either body, for the checks the schema cannot make. */
export type PlanBody = Static<typeof PlanPatchBody>;
