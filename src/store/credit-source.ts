import type { CreditSource } from '../engine/ports.js';
import type { CreditStore } from './store.js';

/**
 * Where the engine loads groups' credits from: a store's CreditStore, the
 * plan's recurring grant for the period issued first (once per group and
 * period, whichever instance asks first).
 */
export function creditSource(credits: CreditStore, now: () => number): CreditSource {
  return {
    async load(groupId, period, periodGrant) {
      if (periodGrant !== null) await credits.issuePeriodGrant(groupId, periodGrant, period, now());
      return credits.creditState(groupId);
    },
    read: (groupId) => credits.creditState(groupId),
  };
}
