import { creditCost, type CallCredits } from '../domain/credits.js';
import { isSeededWindow, isShorthandMonth, SHORTHAND, type LimitOverrides, type LimitSpec } from '../domain/limits.js';
import type { AppliedLimit, MeterRequest } from '../domain/metering.js';
import { UNLIMITED, type Group, type KeyContext, type Plan } from '../domain/types.js';

/**
 * The limits that bind a key, worked out once from its plan, its group and
 * its app: the shorthand fields as limits under their reserved names, the
 * plan's named limits, the group's and then the app's own, with the group's
 * and then the app's overrides applied (an override of null lifts a limit;
 * the period counters `month` and `app-month` are then kept, unlimited, for
 * the usage they report).
 *
 * Order matters: a refusal names the first limit that refused, so the
 * group's come before the app's, as they always have.
 */
export function keyLimits(context: KeyContext): readonly AppliedLimit[] {
  let memo = byContext.get(context);
  if (memo === undefined) byContext.set(context, (memo = { all: resolve(context), byKind: new Map() }));
  return memo.all;
}

/** The limits a call of this kind and mode is decided against: those whose usage types hold its kind. */
export function callLimits(context: KeyContext, usageType: string, mode: MeterRequest['mode']): readonly AppliedLimit[] {
  const all = keyLimits(context);
  // A rate_only touch reads every limit (the usage endpoints report them all); the decision consumes only some.
  if (mode === 'rate_only') return all;
  const memo = byContext.get(context)!;
  let limits = memo.byKind.get(usageType);
  if (limits === undefined) {
    limits = all.filter((l) => l.usageTypes === null || l.usageTypes.includes(usageType));
    // Contexts are cached per key; the kinds a key uses are few, but a caller could send many.
    if (memo.byKind.size < 64) memo.byKind.set(usageType, limits);
  }
  return limits;
}

/**
 * The counters ingested usage of a kind counts toward for an app: its
 * billing-period limits, and its hour and day windows (which are seeded from
 * the rollups, where the events are too); never a second or minute window,
 * nor a key's limit (ingested events carry no key).
 */
export function ingestLimits(context: Omit<KeyContext, 'key'>, usageType: string): AppliedLimit[] {
  return resolve({ ...context, key: { id: '' } as KeyContext['key'] })
    .filter((l) => (l.window === 'billing_period' || isSeededWindow(l.window)) && l.scope !== 'key' && (l.usageTypes === null || l.usageTypes.includes(usageType)));
}

/**
 * The limits its plan and the group itself put on a group as a whole (scope
 * `group`, the group's overrides applied): what the provider's view of a
 * group gauges. An app's or a key's limits belong to that app or key.
 */
export function groupLimits(plan: Plan, group: Group): AppliedLimit[] {
  const noApp = { id: '', monthlyQuota: null, rateLimitPerMinute: null, limits: [], limitOverrides: {} } as unknown as KeyContext['app'];
  return resolve({ plan, group, app: noApp, key: { id: '' } as KeyContext['key'] }).filter((l) => l.scope === 'group');
}

/**
 * The named billing-period limits (the shorthand totals left out) that
 * ingested usage of any of these kinds counted toward, each once: what the
 * usage alerts read after an ingest.
 */
export function ingestedNamedLimits(context: Omit<KeyContext, 'key'>, usageTypes: Iterable<string>): AppliedLimit[] {
  const found = new Map<string, AppliedLimit>();
  for (const usageType of usageTypes) {
    for (const limit of ingestLimits(context, usageType)) {
      // Ingested usage also counts in hour and day windows, but only billing-period limits alert: the others are not read.
      if (limit.window === 'billing_period' && !isShorthandMonth(limit.name)) found.set(limit.name, limit);
    }
  }
  return [...found.values()];
}

const byContext = new WeakMap<KeyContext, { all: readonly AppliedLimit[]; byKind: Map<string, readonly AppliedLimit[]> }>();

function resolve({ plan, group, app, key }: KeyContext): AppliedLimit[] {
  const shorthand: LimitSpec[] = [
    { name: SHORTHAND.groupMinute, usageTypes: null, window: 'minute', units: plan.rateLimitPerMinute, scope: 'group' },
    { name: SHORTHAND.appMinute, usageTypes: null, window: 'minute', units: app.rateLimitPerMinute ?? UNLIMITED, scope: 'app' },
    { name: SHORTHAND.groupMonth, usageTypes: null, window: 'billing_period', units: plan.monthlyQuota, scope: 'group' },
    { name: SHORTHAND.appMonth, usageTypes: null, window: 'billing_period', units: app.monthlyQuota ?? UNLIMITED, scope: 'app' },
  ];
  const specs = [...shorthand, ...(plan.limits ?? []), ...(group.limits ?? []), ...(app.limits ?? [])];
  const overrides: LimitOverrides = { ...group.limitOverrides, ...app.limitOverrides };
  const applied: AppliedLimit[] = [];
  for (const spec of specs) {
    const override = overrides[spec.name];
    const units = override === undefined ? spec.units : override === null ? UNLIMITED : override;
    const kept = units >= 0 || isShorthandMonth(spec.name);
    if (!kept) continue;
    const scopeId = spec.scope === 'group' ? group.id : spec.scope === 'app' ? app.id : key.id;
    applied.push({ ...spec, usageTypes: spec.usageTypes === null ? null : [...spec.usageTypes].sort(), units, scopeId });
  }
  return applied;
}

/** The units a named limit allows a key; -1 when it has no such limit or it is unlimited. */
export function unitsOf(limits: readonly AppliedLimit[], name: string): number {
  return limits.find((l) => l.name === name)?.units ?? UNLIMITED;
}

/** What a call of this kind costs in credits under the key's plan; undefined when the plan uses none. */
export function callCredits(plan: KeyContext['plan'], usageType: string): CallCredits | undefined {
  const config = plan.credits;
  if (config === null || config === undefined) return undefined;
  return { perUnit: creditCost(config.perUnit, usageType, 1), periodGrant: config.grantEveryPeriod };
}
