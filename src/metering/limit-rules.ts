import { MAX_LIMIT_UNITS } from '../contract/limits.js';
import { ID_PATTERN } from '../contract/patterns.js';
import type { CreditsConfig } from '../domain/credits.js';
import { LIMIT_SCOPES, LIMIT_WINDOWS, RESERVED_LIMIT_NAMES, SHORTHAND, type LimitOverrides, type LimitSpec } from '../domain/limits.js';
import type { App, Group, Plan } from '../domain/types.js';

/**
 * The rules of named limits, overrides and credits that a schema cannot say
 * (names unique where limits apply together, the shorthand's names reserved,
 * overrides of limits that exist), in one place for the admin API and the
 * CLI. Each check returns the first problem as a sentence that names the
 * request's field (`body field "limits.1.name"`), or null.
 */

const ID = new RegExp(ID_PATTERN);

/** Which field of the shorthand each reserved name stands for. */
const SHORTHAND_FIELDS: Readonly<Record<string, string>> = {
  [SHORTHAND.groupMinute]: "the plan's rate_limit_per_minute",
  [SHORTHAND.groupMonth]: "the plan's monthly_quota",
  [SHORTHAND.appMinute]: "an app's rate_limit_per_minute",
  [SHORTHAND.appMonth]: "an app's monthly_quota",
};

/** Whose limits: a plan's, a group's own or an app's own (an app's only scope `app` or `key`). */
export type LimitOwner = 'plan' | 'group' | 'app';

const isUnits = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_LIMIT_UNITS;
const UNITS = `a whole number from 0 to ${MAX_LIMIT_UNITS}`;

/**
 * What is wrong with one limit of `owner` by itself, or null: the field at
 * fault (`name`, `window`, `units`, `scope`, `usage_types`) and what is
 * wrong with it, said after the field's name (the API says `body field
 * "limits.0.window"`, the CLI its option).
 */
export function limitProblem(limit: LimitSpec, owner: LimitOwner): { field: keyof WireLimitFields; problem: string } | null {
  if (!ID.test(limit.name)) return { field: 'name', problem: `must be 1 to 64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit, got "${limit.name}"` };
  if (RESERVED_LIMIT_NAMES.includes(limit.name)) {
    return { field: 'name', problem: `may not be "${limit.name}": the name is reserved for ${SHORTHAND_FIELDS[limit.name]}; set that field, or name this limit otherwise` };
  }
  if (!(LIMIT_WINDOWS as readonly string[]).includes(limit.window)) return { field: 'window', problem: `must be one of: ${LIMIT_WINDOWS.join(', ')}` };
  if (!isUnits(limit.units)) return { field: 'units', problem: `must be ${UNITS}, got ${limit.units}` };
  const scopes: readonly string[] = owner === 'app' ? ['app', 'key'] : LIMIT_SCOPES;
  if (!scopes.includes(limit.scope)) {
    return { field: 'scope', problem: `must be one of: ${scopes.join(', ')}${owner === 'app' ? ' (a group-wide limit belongs on the group)' : ''}` };
  }
  const types = limit.usageTypes;
  if (types === null) return null;
  if (types.length === 0) return { field: 'usage_types', problem: 'must list at least one usage type, or be left out for all of them' };
  const bad = types.find((t) => !ID.test(t));
  if (bad !== undefined) return { field: 'usage_types', problem: `must hold usage types (1 to 64 letters, digits, ".", "_", ":" or "-"), not "${bad}"` };
  if (new Set(types).size !== types.length) return { field: 'usage_types', problem: 'lists a usage type twice' };
  return null;
}

/** The wire names of a limit's fields. */
interface WireLimitFields {
  name: string; window: string; units: number; scope: string; usage_types: string[] | null;
}

/**
 * The problem with `limits` of `owner`, or null. `inherited`: the names of the
 * limits they are added to (a group's: its plan's; an app's: its plan's and
 * group's), which they may not take again.
 */
export function limitsProblem(limits: readonly LimitSpec[], owner: LimitOwner, inherited: readonly string[] = [], field = 'limits'): string | null {
  const seen = new Set<string>();
  for (const [i, limit] of limits.entries()) {
    const at = (part: string) => `body field "${field}.${i}.${part}"`;
    const wrong = limitProblem(limit, owner);
    if (wrong !== null) return `${at(wrong.field)} ${wrong.problem}.`;
    if (seen.has(limit.name)) return `${at('name')}: the name "${limit.name}" is used twice; names are unique.`;
    if (inherited.includes(limit.name)) {
      return `${at('name')}: "${limit.name}" is already a limit of the ${owner === 'app' ? "app's plan or group" : "group's plan"}; change its units in limit_overrides instead.`;
    }
    seen.add(limit.name);
  }
  return null;
}

/** The names a group's overrides may name: its plan's limits, the plan's shorthand, and its own limits. */
export function groupLimitNames(plan: Pick<Plan, 'limits'>, group: Pick<Group, 'limits'>): string[] {
  return [SHORTHAND.groupMinute, SHORTHAND.groupMonth, ...plan.limits.map((l) => l.name), ...group.limits.map((l) => l.name)];
}

/** The names an app's overrides may name: its group's, the app's shorthand, and its own limits. */
export function appLimitNames(plan: Pick<Plan, 'limits'>, group: Pick<Group, 'limits'>, app: Pick<App, 'limits'>): string[] {
  return [...groupLimitNames(plan, group), SHORTHAND.appMinute, SHORTHAND.appMonth, ...app.limits.map((l) => l.name)];
}

/** The problem with overrides that may name the limits `known`, or null. */
export function overridesProblem(overrides: LimitOverrides, known: readonly string[], field = 'limit_overrides'): string | null {
  const unknown = Object.keys(overrides).filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    return `body field "${field}" names no limit that applies here: ${unknown.map((n) => `"${n}"`).join(', ')}; the limits are: ${known.join(', ')}.`;
  }
  for (const [name, units] of Object.entries(overrides)) {
    if (units !== null && !isUnits(units)) return `body field "${field}.${name}" must be ${UNITS}, or null to lift the limit.`;
  }
  return null;
}

/** The problem with a group's own limits and overrides under `plan`, or null. */
export function groupLimitsProblem(plan: Pick<Plan, 'limits'>, group: Pick<Group, 'limits' | 'limitOverrides'>): string | null {
  return limitsProblem(group.limits, 'group', plan.limits.map((l) => l.name))
    ?? overridesProblem(group.limitOverrides, groupLimitNames(plan, group));
}

/** The problem with an app's own limits and overrides under its group and plan, or null. */
export function appLimitsProblem(plan: Pick<Plan, 'limits'>, group: Pick<Group, 'limits'>, app: Pick<App, 'limits' | 'limitOverrides'>): string | null {
  return limitsProblem(app.limits, 'app', [...plan.limits, ...group.limits].map((l) => l.name))
    ?? overridesProblem(app.limitOverrides, appLimitNames(plan, group, app));
}

/** The problem with a plan's credits, or null: whole prices of usage types (or `*`), a whole recurring grant. */
export function creditsProblem(credits: CreditsConfig | null, field = 'credits'): string | null {
  if (credits === null) return null;
  for (const [type, price] of Object.entries(credits.perUnit)) {
    if (type !== '*' && !ID.test(type)) return `body field "${field}.per_unit": "${type}" is not a usage type or "*".`;
    if (!isUnits(price)) return `body field "${field}.per_unit.${type}" must be ${UNITS}: credits are whole.`;
  }
  const grant = credits.grantEveryPeriod;
  if (grant === null) return null;
  if (!isUnits(grant.amount) || grant.amount === 0) return `body field "${field}.grant_every_period.amount" must be a whole number from 1 to ${MAX_LIMIT_UNITS}.`;
  if (grant.rollover !== 'none' && grant.rollover !== 'all' && !isUnits(grant.rollover)) {
    return `body field "${field}.grant_every_period.rollover" must be "none", "all" or ${UNITS}.`;
  }
  return null;
}
