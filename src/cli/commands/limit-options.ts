import { type Command, InvalidArgumentError } from 'commander';
import type { NewPlan, Plan } from '../../client/admin-types.js';
import { LIMIT_SCOPES, type LimitScope, type LimitWindow } from '../../domain/limits.js';
import { creditsProblem, limitProblem } from '../../metering/limit-rules.js';

/**
 * The plan options of named limits and credits: `--limit` and
 * `--credits-per-unit` (repeatable) and `--grant-every-period`, each checked
 * by the API's own rules (src/metering/limit-rules.ts) before anything is
 * sent, so that a mistake is named by its option.
 */

type PlanLimit = NonNullable<NewPlan['limits']>[number];
type PerUnit = Record<string, number>;
type PeriodGrant = { amount: number; rollover?: 'none' | 'all' | number };

export interface LimitOptions {
  limit?: PlanLimit[];
  creditsPerUnit?: PerUnit | 'none';
  grantEveryPeriod?: PeriodGrant | 'none';
}

/** The option behind each field the options set, for the API's messages. */
export const LIMIT_FIELDS = { limits: '--limit', credits: '--credits-per-unit' } as const;

/**
 * `name:window:units[:scope][:type1,type2]`; a name with ":" cannot be given
 * this way (the API takes it). `none` alone: no limits at all.
 */
export function parseLimitOption(value: string, previous: PlanLimit[] = []): PlanLimit[] {
  if (value.trim() === 'none') return [];
  const [name = '', window = '', units = '', ...rest] = value.split(':');
  if (rest.length > 2 || units === '') throw new InvalidArgumentError('Expected name:window:units[:scope][:type1,type2], e.g. images-day:day:500:group:image,pdf.');
  const scope = rest.length > 0 && (LIMIT_SCOPES as readonly string[]).includes(rest[0]!) ? rest.shift() as LimitScope : undefined;
  const types = rest.length > 0 ? rest[0]!.split(',') : undefined;
  if (rest.length > 1) throw new InvalidArgumentError(`"${rest[0]}" is not a scope (${LIMIT_SCOPES.join(', ')}); the usage types come last.`);
  const limit = { name, window: window as LimitWindow, units: /^\d+$/.test(units) ? Number(units) : Number.NaN, scope: scope ?? 'group', usageTypes: types ?? null };
  const wrong = limitProblem(limit, 'plan');
  if (wrong !== null) throw new InvalidArgumentError(`The limit's ${wrong.field} ${wrong.problem}.`);
  return [...previous, { name, window: limit.window, units: limit.units, ...(scope === undefined ? {} : { scope }), ...(types === undefined ? {} : { usageTypes: types }) }];
}

/** `type=n` (`*=n` for every type not listed); `none` alone: the plan uses no credits. */
export function parsePerUnitOption(value: string, previous: PerUnit | 'none' = {}): PerUnit | 'none' {
  if (value.trim() === 'none') return 'none';
  const match = /^([^=]+)=(\d+)$/.exec(value.trim());
  if (match === null) throw new InvalidArgumentError('Expected usage-type=credits, e.g. image=1 or *=1 (whole credits).');
  const perUnit = { ...(previous === 'none' ? {} : previous), [match[1]!]: Number(match[2]) };
  const problem = creditsProblem({ perUnit, grantEveryPeriod: null });
  if (problem !== null) throw new InvalidArgumentError(problem.replace(/^body field "credits\.per_unit[^"]*":? ?/, ''));
  return perUnit;
}

/** `amount[:rollover]`, rollover `none` (default), `all` or the most credits kept; `none` alone: no recurring grant. */
export function parseGrantOption(value: string): PeriodGrant | 'none' {
  if (value.trim() === 'none') return 'none';
  const [amount = '', rollover, ...rest] = value.split(':');
  const kept: PeriodGrant['rollover'] | undefined = rollover === undefined || rollover === 'none' || rollover === 'all'
    ? rollover : /^\d+$/.test(rollover) ? Number(rollover) : Number.NaN;
  const grant = { amount: /^\d+$/.test(amount) ? Number(amount) : Number.NaN, rollover: kept ?? 'none' };
  const problem = rest.length > 0 ? 'Expected amount[:rollover].' : creditsProblem({ perUnit: {}, grantEveryPeriod: grant });
  if (problem !== null) throw new InvalidArgumentError(problem.replace(/^body field "credits\.grant_every_period\.(\w+)"/, '$1'));
  return { amount: grant.amount, ...(kept === undefined ? {} : { rollover: kept }) };
}

/** Adds the options of named limits and credits to a plan command. */
export function withLimitOptions(command: Command): Command {
  return command
    .option('--limit <name:window:units[:scope][:types]>',
      'a named limit, repeatable: window second|minute|hour|day|billing_period, scope group (default)|app|key, usage types comma-separated (default all); "none": no limits. Replaces the plan\'s list', parseLimitOption)
    .option('--credits-per-unit <type=n>', 'credits a unit of a usage type costs, repeatable; * for every type not listed; "none": the plan uses no credits', parsePerUnitOption)
    .option('--grant-every-period <amount[:rollover]>', 'credits granted at each billing period\'s start; rollover none (default), all, or the most kept; "none": no grant', parseGrantOption);
}

/**
 * The plan's `limits` and `credits` from the options, for a new plan or a
 * change of `current` (a grant alone keeps the current prices, and prices
 * alone the current grant); undefined fields are left as they are.
 */
export function limitFields(opts: LimitOptions, current: Plan | null): Pick<NewPlan, 'limits' | 'credits'> {
  const fields: Pick<NewPlan, 'limits' | 'credits'> = { limits: opts.limit };
  const { creditsPerUnit: perUnit, grantEveryPeriod: grant } = opts;
  if (perUnit === 'none') return { ...fields, credits: null };
  if (perUnit === undefined && grant === undefined) return fields;
  return {
    ...fields,
    credits: {
      perUnit: perUnit ?? current?.credits?.perUnit ?? {},
      grantEveryPeriod: grant === undefined ? current?.credits?.grantEveryPeriod ?? null : grant === 'none' ? null : grant,
    },
  };
}
