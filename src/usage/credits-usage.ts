import type { Static } from 'typebox';
import type { CreditsUsageSchema } from '../contract/credits.js';
import { balanceOf, creditsByKind, grantedIn, nextExpiry } from '../domain/credits.js';
import { billingPeriod } from '../domain/periods.js';
import type { Group, Plan } from '../domain/types.js';
import { creditSource } from '../store/credit-source.js';
import type { Store } from '../store/store.js';
import { queryUsage } from './usage-query.js';

export type CreditsUsage = Static<typeof CreditsUsageSchema>;

/**
 * A group's credits in its current billing period, as `GET /v1/usage` and
 * the admin's usage query report them; undefined when its plan uses none.
 *
 * The grants are read as the engine loads them (the plan's recurring grant
 * for the period issued first, once), so the period's grant counts before
 * the group's first call of the period. The balance is the store's: every
 * answered call's charge is written with its event before the answer. What
 * was used is the period's units of each kind at the plan's prices now,
 * by the rule checks are charged with (`creditCost`).
 */
export async function creditsUsage(store: Store, group: Group, plan: Plan, now: number): Promise<CreditsUsage | undefined> {
  const config = plan.credits;
  if (config === null) return undefined;
  const period = billingPeriod(now, plan.timeZone);
  const [state, records] = await Promise.all([
    creditSource(store.credits, () => now).load(group.id, period, config.grantEveryPeriod),
    queryUsage(store, { groupId: group.id, from: period.start, to: period.end, groupBy: 'usage_type', timespan: 'month', zone: plan.timeZone }),
  ]);
  const expiry = nextExpiry(state.grants, now);
  return {
    balance: balanceOf(state.grants, state.debt, now),
    granted_this_period: grantedIn(state.grants, period),
    used_this_period: creditsByKind(config.perUnit, records.map((r) => [r.usage_type, r.count] as const)).total,
    next_expiry: expiry === null ? null : new Date(expiry).toISOString(),
  };
}
