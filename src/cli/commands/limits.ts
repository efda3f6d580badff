import type { Command } from 'commander';
import type { AdminApi } from '../../client/admin.js';
import type { App, Group, Plan } from '../../client/admin-types.js';
import { SHORTHAND } from '../../domain/limits.js';
import { clientCommand, type Context, run, UsageError } from './common.js';
import { type Column, formatLimit, formatTable } from './table.js';

/**
 * `tollgate limits show|set|unset`: the limits that bind a group (or one of
 * its apps), and the customer's own deal, its overrides.
 */

interface LimitRow {
  name: string;
  window: string;
  scope: string;
  usageTypes: string[] | null;
  from: 'plan' | 'group' | 'app';
  /** As declared: -1 unlimited, null (an app's shorthand) none. */
  units: number | null;
  /** The override that applies (the app's wins over the group's): units, null (lifted), or undefined (none). */
  override: { units: number | null; by: 'group' | 'app' } | undefined;
}

/** Every limit of the plan, the group and (given) the app, with the override that applies to each. */
function limitRows(plan: Plan, group: Group, app: App | null): LimitRow[] {
  const all = (usageTypes: null) => ({ usageTypes });
  const declared: Omit<LimitRow, 'override'>[] = [
    { name: SHORTHAND.groupMinute, window: 'minute', scope: 'group', ...all(null), from: 'plan', units: plan.rateLimitPerMinute },
    { name: SHORTHAND.groupMonth, window: 'billing_period', scope: 'group', ...all(null), from: 'plan', units: plan.monthlyQuota },
    ...plan.limits.map((l) => ({ ...l, from: 'plan' as const })),
    ...group.limits.map((l) => ({ ...l, from: 'group' as const })),
    ...(app === null ? [] : [
      { name: SHORTHAND.appMinute, window: 'minute', scope: 'app', ...all(null), from: 'app' as const, units: app.rateLimitPerMinute },
      { name: SHORTHAND.appMonth, window: 'billing_period', scope: 'app', ...all(null), from: 'app' as const, units: app.monthlyQuota },
      ...app.limits.map((l) => ({ ...l, from: 'app' as const })),
    ]),
  ];
  const overrideOf = (name: string): LimitRow['override'] => {
    if (app !== null && Object.hasOwn(app.limitOverrides, name)) return { units: app.limitOverrides[name]!, by: 'app' };
    if (Object.hasOwn(group.limitOverrides, name)) return { units: group.limitOverrides[name]!, by: 'group' };
    return undefined;
  };
  return declared.map((row) => ({ ...row, override: overrideOf(row.name) }));
}

const overrideText = (o: LimitRow['override']) => (o === undefined ? null : `${o.units === null ? 'lifted' : o.units} (${o.by})`);

const columns: Column<LimitRow>[] = [
  { header: 'NAME', value: 'name' },
  { header: 'WINDOW', value: 'window' },
  { header: 'SCOPE', value: 'scope' },
  { header: 'USAGE TYPES', value: (r) => (r.usageTypes === null ? 'all' : r.usageTypes.join(',')) },
  { header: 'FROM', value: 'from' },
  { header: 'UNITS', value: (r) => formatLimit(r.units) },
  { header: 'OVERRIDE', value: (r) => overrideText(r.override) },
  { header: 'APPLIES', value: (r) => (r.override === undefined ? formatLimit(r.units) : r.override.units === null ? 'none' : String(r.override.units)) },
];

/** The group, its plan and (given) its app, refusing an app of another group. */
async function load(api: AdminApi, groupId: string, appId: string | undefined): Promise<{ plan: Plan; group: Group; app: App | null }> {
  const group = await api.groups.get(groupId);
  const [plan, app] = await Promise.all([api.plans.get(group.planId), appId === undefined ? null : api.apps.get(appId)]);
  if (app !== null && app.groupId !== group.id) throw new UsageError(`app "${app.appId}" is in group "${app.groupId}", not "${group.id}".`);
  return { plan, group, app };
}

/** Prints the limits table (or, with --json, what `json` is: the group or app, or the three). */
async function showLimits(ctx: Context<{ app?: string }>, groupId: string, json?: unknown): Promise<void> {
  const { plan, group, app } = await load(ctx.api, groupId, ctx.opts.app);
  ctx.output(json ?? { plan, group, app }, () => formatTable(columns, limitRows(plan, group, app)));
}

/** Writes the group's (or, with --app, the app's) overrides as `change` makes them, then shows the limits. */
async function changeOverrides(ctx: Context<{ app?: string }>, groupId: string, change: (overrides: Record<string, number | null>) => void): Promise<void> {
  const { group, app } = await load(ctx.api, groupId, ctx.opts.app);
  const overrides = { ...(app ?? group).limitOverrides };
  change(overrides);
  const changed = app === null
    ? await ctx.api.groups.update(group.id, { limitOverrides: overrides })
    : await ctx.api.apps.update(app.appId, { limitOverrides: overrides });
  await showLimits(ctx, groupId, changed);
}

/** An override's units: a whole number, or "none" (null) to lift the limit. */
function parseOverride(value: string): number | null {
  if (value.trim() === 'none') return null;
  if (!/^\d+$/.test(value.trim()) || Number(value) > 1e12) throw new UsageError(`<units> must be a whole number from 0 to 1e12, or "none" to lift the limit, got "${value}".`);
  return Number(value);
}

const APP_OPTION = ['--app <app_id>', "the group's app whose own overrides to use (they win over the group's)"] as const;
/** The API's field behind the arguments, for its messages. */
const FIELDS = { limit_overrides: '<name>' };

export function registerLimitsCommand(program: Command): void {
  const limits = program.command('limits').description("Limits: what binds a group or an app, and the customer's own overrides");

  clientCommand(limits, 'show <group_id>', "Show the limits of a group's plan with the group's (and an app's) overrides applied")
    .option(...APP_OPTION)
    .action(run<{ app?: string }>(async (ctx, [groupId]) => showLimits(ctx, groupId!)));
  clientCommand(limits, 'set <group_id> <name> <units>', 'Override a limit for the group (or an app): new units, or "none" to lift it')
    .option(...APP_OPTION)
    .action(run<{ app?: string }>(async (ctx, [groupId, name, units]) => {
      const value = parseOverride(units!);
      await changeOverrides(ctx, groupId!, (overrides) => { overrides[name!] = value; });
    }, FIELDS));
  clientCommand(limits, 'unset <group_id> <name>', "Remove the group's (or an app's) override of a limit: the plan's units apply again")
    .option(...APP_OPTION)
    .action(run<{ app?: string }>(async (ctx, [groupId, name]) => {
      await changeOverrides(ctx, groupId!, (overrides) => { delete overrides[name!]; });
    }, FIELDS));
}
