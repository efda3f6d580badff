import { Type } from 'typebox';
import { Currency, Timestamp } from './common.js';
import { PERIOD_PATTERN } from './patterns.js';
import { UsagePriceSchema } from './plans.js';

/** Billing statements: per group and billing month, in JSON (these shapes) or CSV. */

const Amount = Type.Integer({ description: 'In minor units of the currency (cents for USD).' });
const AmountDecimal = Type.String({ description: 'The amount as a decimal in the major unit, e.g. "2300.01".' });

export const StatementSchema = Type.Object({
  group_id: Type.String(),
  period: Type.String({ description: 'The billing month, YYYY-MM in the plan\'s time zone.' }),
  period_start: Timestamp,
  period_end: Timestamp,
  status: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
  preview: Type.Boolean({ description: 'True while the period is open: the amounts may still change.' }),
  closes_at: Timestamp,
  closed_at: Type.Union([Timestamp, Type.Null()]),
  currency: Currency,
  pricing: Type.Object({
    plan_id: Type.String(), currency: Currency, price_per_call: Type.Union([Type.String(), Type.Null()]), prices: Type.Array(UsagePriceSchema),
  }, { description: 'The plan\'s prices this statement applies (kept as they were when it closed).' }),
  lines: Type.Array(Type.Object({
    usage_type: Type.String(),
    units: Type.Integer({ description: "The group's units of this usage type in the period, all apps together." }),
    pricing: Type.Union([Type.Literal('flat'), Type.Literal('graduated'), Type.Literal('none')]),
    unit_price: Type.Union([Type.String(), Type.Null()], { description: 'The flat price; null for tiers or no price.' }),
    tiers: Type.Array(Type.Object({
      first_unit: Type.Integer(), up_to: Type.Union([Type.Integer(), Type.Null()]), units: Type.Integer(),
      unit_price: Type.String(), subtotal: Type.String({ description: 'units × unit_price, exact, before the line is rounded.' }),
    })),
    amount: Amount,
    amount_decimal: AmountDecimal,
  })),
  apps: Type.Array(Type.Object({
    app_id: Type.String(), units: Type.Integer(),
    usage_type: Type.String({ description: 'The one usage type of all the app\'s units; "" when it used several.' }),
  }), { description: 'Units per app, to reconcile the lines with each app\'s usage.' }),
  adjustments: Type.Array(Type.Object({
    period: Type.String({ description: 'The closed period the late units belong to.' }),
    usage_type: Type.String(), units: Type.Integer(), amount: Amount, amount_decimal: AmountDecimal,
  }), { description: 'Usage that reached earlier, closed periods after they closed, at those periods\' prices.' }),
  credits: Type.Optional(Type.Object({
    granted: Type.Integer({
      description: "Credits granted in the period: the grants made in it and not voided, the plan's recurring grant included; what a rollover carried over from the period before is not counted again.",
    }),
    used: Type.Integer({ description: 'The sum of by_usage_type\'s credits.' }),
    by_usage_type: Type.Array(Type.Object({
      usage_type: Type.String(),
      units: Type.Integer({ description: 'The same units as the usage type\'s line.' }),
      credits: Type.Integer({ description: "units × the plan's credits per unit of this usage type, as checks are charged (0: no price)." }),
    })),
    balance: Type.Union([Type.Integer(), Type.Null()], {
      description: "The group's balance at balance_at, while the period is under way; null once it has ended: what each grant had left at the period's end is not kept.",
    }),
    balance_at: Type.Union([Timestamp, Type.Null()]),
  }, { description: "The group's prepaid credits in the period, beside the money lines (which they do not change); present only when the plan uses credits." })),
  total: Amount,
  total_decimal: AmountDecimal,
});

/** A billing period in the list of a group's statements. */
export const StatementSummary = Type.Object({
  period: Type.String(),
  period_start: Timestamp,
  period_end: Timestamp,
  status: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
  preview: Type.Boolean(),
  closes_at: Timestamp,
  closed_at: Type.Union([Timestamp, Type.Null()]),
  currency: Currency,
  total: Amount,
  total_decimal: AmountDecimal,
});

export const StatementFormat = Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'Default json, or text/csv when the Accept header asks for it.' }));
export const CsvText = Type.String({ description: 'The same content as CSV.' });

/** A billing month: the schema refuses anything else, naming the parameter. */
export const Period = (description: string) => Type.String({ pattern: PERIOD_PATTERN, description });
