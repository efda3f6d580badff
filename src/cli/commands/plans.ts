import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Static } from 'typebox';
import type { PlanSchema } from '../../contract/plans.js';
import { apiPath } from './api-client.js';
import { changes, clientCommand, type FieldOptions, itemCommand, listCommand, parseDecimal, parseLimit, run } from './common.js';
import { type Column, formatLimit } from './table.js';

type Plan = Static<typeof PlanSchema>;

interface PlanOptions {
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
  { header: 'MONTHLY QUOTA', value: (p) => formatLimit(p.monthly_quota) },
  { header: 'RATE LIMIT/MIN', value: (p) => formatLimit(p.rate_limit_per_minute) },
  { header: 'PRICE/CALL', value: 'price_per_call' },
  { header: 'CURRENCY', value: 'currency' },
  { header: 'PRICES', value: (p) => p.prices.map((price) => `${price.usage_type}: ${price.unit_price ?? price.tiers!.map((t) => `${t.unit_price} to ${t.up_to ?? 'more'}`).join(', ')}`).join('; ') },
  { header: 'TIME ZONE', value: 'time_zone' },
  { header: 'CREATED', value: 'created_at' },
  { header: 'UPDATED', value: 'updated_at' },
];

/** The plan fields as options; `create` requires the two limits. */
function withPlanOptions(command: Command, limitsRequired: boolean): Command {
  return command
    .addOption(new Option('--monthly-quota <n>', 'units per billing month; -1: unlimited').argParser(parseLimit).makeOptionMandatory(limitsRequired))
    .addOption(new Option('--rate-limit <n>', 'units per minute; -1: unlimited').argParser(parseLimit).makeOptionMandatory(limitsRequired))
    .option('--price-per-call <decimal>', 'price of a unit of every usage type not in --prices, e.g. 0.01', parseDecimal)
    .option('--currency <code>', 'ISO 4217 currency of the prices (default USD)')
    .option('--prices <json>', 'prices per usage type, a JSON array: [{"usage_type": "image", "tiers": [{"up_to": 1000000, "unit_price": "0.002"}, {"up_to": null, "unit_price": "0.0015"}]}]', parsePrices)
    .option('--time-zone <iana>', 'IANA zone of the billing month, e.g. America/New_York (default UTC)');
}

/** The option behind each field of planBody. */
const PLAN_FIELDS: FieldOptions = {
  monthly_quota: '--monthly-quota', rate_limit_per_minute: '--rate-limit',
  price_per_call: '--price-per-call', currency: '--currency', prices: '--prices', time_zone: '--time-zone',
};

function planBody(opts: PlanOptions) {
  return {
    monthly_quota: opts.monthlyQuota, rate_limit_per_minute: opts.rateLimit,
    price_per_call: opts.pricePerCall, currency: opts.currency, prices: opts.prices, time_zone: opts.timeZone,
  };
}

/** `tollgate plans create|list|show|update`: limits and prices that groups subscribe to. */
export function registerPlanCommands(program: Command): void {
  const plans = program.command('plans').description('Plans: limits and prices that groups subscribe to');

  withPlanOptions(clientCommand(plans, 'create <id>', 'Create a plan'), true)
    .action(run<PlanOptions>(async ({ api, opts, show }, [id]) => {
      show(await api.post<Plan>('/admin/plans', { id, ...planBody(opts) }), columns);
    }, { id: '<id>', ...PLAN_FIELDS }));
  listCommand(plans, 'List plans', columns, () => '/admin/plans');
  itemCommand(plans, 'show <id>', 'Show a plan', 'GET', (id) => apiPath`/admin/plans/${id}`, columns);
  withPlanOptions(clientCommand(plans, 'update <id>', 'Change a plan'), false)
    .action(run<PlanOptions>(async ({ api, opts, show, command }, [id]) => {
      show(await api.patch<Plan>(apiPath`/admin/plans/${id!}`, changes(command, planBody(opts))), columns);
    }, PLAN_FIELDS));
}
