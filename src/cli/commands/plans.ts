import { type Command, InvalidArgumentError, Option } from 'commander';
import type { NewPlan, Plan } from '../../client/admin-types.js';
import { fromWire } from '../../client/wire.js';
import { changes, clientCommand, type FieldOptions, itemCommand, listCommand, parseDecimal, parseLimit, run } from './common.js';
import { limitFields, LIMIT_FIELDS, type LimitOptions, withLimitOptions } from './limit-options.js';
import { type Column, formatLimit, formatNamedLimit } from './table.js';

interface PlanOptions extends LimitOptions {
  monthlyQuota?: number;
  rateLimit?: number;
  pricePerCall?: string;
  currency?: string;
  prices?: unknown[];
  timeZone?: string;
}

function parsePrices(value: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('Expected a JSON array such as \'[{"usage_type": "pdf", "unit_price": "0.01"}]\'.');
  }
  if (!Array.isArray(parsed)) throw new InvalidArgumentError('Expected a JSON array of prices.');
  return parsed;
}

const columns: Column<Plan>[] = [
  { header: 'ID', value: 'id' },
  { header: 'MONTHLY QUOTA', value: (p) => formatLimit(p.monthlyQuota) },
  { header: 'RATE LIMIT/MIN', value: (p) => formatLimit(p.rateLimitPerMinute) },
  { header: 'PRICE/CALL', value: 'pricePerCall' },
  { header: 'CURRENCY', value: 'currency' },
  { header: 'PRICES', value: (p) => p.prices.map((price) => `${price.usageType}: ${price.unitPrice ?? price.tiers!.map((t) => `${t.unitPrice} to ${t.upTo ?? 'more'}`).join(', ')}`).join('; ') },
  { header: 'TIME ZONE', value: 'timeZone' },
  { header: 'CREATED', value: 'createdAt' },
  { header: 'UPDATED', value: 'updatedAt' },
];

/** One plan shown alone: its named limits and credits too (a list keeps to the columns above). */
const detail: Column<Plan>[] = [
  ...columns,
  { header: 'LIMITS', value: (p) => p.limits.map(formatNamedLimit).join('; ') },
  { header: 'CREDITS/UNIT', value: (p) => (p.credits === null ? null : Object.entries(p.credits.perUnit).map(([type, n]) => `${type}=${n}`).join(', ')) },
  {
    header: 'CREDITS GRANT',
    value: (p) => (p.credits?.grantEveryPeriod ? `${p.credits.grantEveryPeriod.amount} every period, rollover ${p.credits.grantEveryPeriod.rollover}` : null),
  },
];

/** The plan fields as options; `create` requires the two shorthand limits. */
function withPlanOptions(command: Command, limitsRequired: boolean): Command {
  command
    .addOption(new Option('--monthly-quota <n>', 'units per billing month; -1: unlimited').argParser(parseLimit).makeOptionMandatory(limitsRequired))
    .addOption(new Option('--rate-limit <n>', 'units per minute; -1: unlimited').argParser(parseLimit).makeOptionMandatory(limitsRequired))
    .option('--price-per-call <decimal>', 'price of a unit of every usage type not in --prices, e.g. 0.01', parseDecimal)
    .option('--currency <code>', 'ISO 4217 currency of the prices (default USD)')
    .option('--prices <json>', 'prices per usage type, a JSON array: [{"usage_type": "image", "tiers": [{"up_to": 1000000, "unit_price": "0.002"}, {"up_to": null, "unit_price": "0.0015"}]}]', parsePrices)
    .option('--time-zone <iana>', 'IANA zone of the billing month, e.g. America/New_York (default UTC)');
  return withLimitOptions(command);
}

/** The option behind each field of planBody. */
const PLAN_FIELDS: FieldOptions = {
  monthly_quota: '--monthly-quota', rate_limit_per_minute: '--rate-limit',
  price_per_call: '--price-per-call', currency: '--currency', prices: '--prices', time_zone: '--time-zone', ...LIMIT_FIELDS,
};

/**
 * The plan's fields from the options; the prices are written as the API
 * writes them (--prices takes its JSON). `current`: the plan changed, whose
 * credits a change of only their prices or only their grant keeps the rest of.
 */
function planBody(opts: PlanOptions, current: Plan | null = null) {
  return {
    monthlyQuota: opts.monthlyQuota, rateLimitPerMinute: opts.rateLimit, pricePerCall: opts.pricePerCall, currency: opts.currency,
    prices: opts.prices === undefined ? undefined : fromWire(opts.prices) as NewPlan['prices'], timeZone: opts.timeZone,
    ...limitFields(opts, current),
  };
}

/** `tollgate plans create|list|show|update`: limits and prices that groups subscribe to. */
export function registerPlanCommands(program: Command): void {
  const plans = program.command('plans').description('Plans: limits and prices that groups subscribe to');

  withPlanOptions(clientCommand(plans, 'create <id>', 'Create a plan'), true)
    .action(run<PlanOptions>(async ({ api, opts, show }, [id]) => {
      show(await api.plans.create({ id: id!, ...planBody(opts), monthlyQuota: opts.monthlyQuota!, rateLimitPerMinute: opts.rateLimit! }), detail);
    }, { id: '<id>', ...PLAN_FIELDS }));
  listCommand(plans, 'List plans', columns, (api, _opts, page) => api.plans.list(page));
  itemCommand(plans, 'show <id>', 'Show a plan', (api, id) => api.plans.get(id), detail);
  withPlanOptions(clientCommand(plans, 'update <id>', 'Change a plan'), false)
    .action(run<PlanOptions>(async ({ api, opts, show, command }, [id]) => {
      const body = changes(command, planBody(opts));
      // Only the credits' prices or only their grant: the other part is the plan's current one.
      const partCredits = (opts.creditsPerUnit === undefined) !== (opts.grantEveryPeriod === undefined) && opts.creditsPerUnit !== 'none';
      show(await api.plans.update(id!, partCredits ? planBody(opts, await api.plans.get(id!)) : body), detail);
    }, PLAN_FIELDS));
}
