import { SHORTHAND } from '../../src/domain/limits.js';
import type { AppliedLimit, LimitState, MeterResult } from '../../src/domain/metering.js';

/** The shorthand limits of a plan and an app (-1: none), as tests set them. */
export interface Shorthand {
  groupRatePerMinute: number;
  appRatePerMinute: number;
  groupMonthlyQuota: number;
  appMonthlyQuota: number;
}

export const UNLIMITED: Shorthand = { groupRatePerMinute: -1, appRatePerMinute: -1, groupMonthlyQuota: -1, appMonthlyQuota: -1 };

/** The applied limits the shorthand makes for a group and app, in the order src/metering/limits.ts gives them. */
export function shorthandLimits(s: Shorthand, ids: { groupId: string; appId: string }): AppliedLimit[] {
  const all: AppliedLimit[] = [
    { name: SHORTHAND.groupMinute, usageTypes: null, window: 'minute', units: s.groupRatePerMinute, scope: 'group', scopeId: ids.groupId },
    { name: SHORTHAND.appMinute, usageTypes: null, window: 'minute', units: s.appRatePerMinute, scope: 'app', scopeId: ids.appId },
    { name: SHORTHAND.groupMonth, usageTypes: null, window: 'billing_period', units: s.groupMonthlyQuota, scope: 'group', scopeId: ids.groupId },
    { name: SHORTHAND.appMonth, usageTypes: null, window: 'billing_period', units: s.appMonthlyQuota, scope: 'app', scopeId: ids.appId },
  ];
  return all.filter((l) => l.window === 'billing_period' || l.units >= 0);
}

/** A limit's state in a result, which must be there. */
export function state(result: Pick<MeterResult, 'limits'>, name: string): LimitState {
  const found = result.limits.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no limit "${name}" in the result (${result.limits.map((s) => s.name).join(', ')})`);
  return found;
}

/** The group's units in the period, as a result reports them. */
export const groupUsed = (result: Pick<MeterResult, 'limits'>): number => state(result, SHORTHAND.groupMonth).used;
/** The app's units in the period, as a result reports them. */
export const appUsed = (result: Pick<MeterResult, 'limits'>): number => state(result, SHORTHAND.appMonth).used;
