import { UNLIMITED, type KeyContext } from '../domain/types.js';
import type { Limits } from '../domain/metering.js';

/** The limits that bind a key: its group's plan, and its app's own limits on top. */
export function effectiveLimits(context: KeyContext): Limits {
  return {
    groupRatePerMinute: context.plan.rateLimitPerMinute,
    appRatePerMinute: context.app.rateLimitPerMinute ?? UNLIMITED,
    groupMonthlyQuota: context.plan.monthlyQuota,
    appMonthlyQuota: context.app.monthlyQuota ?? UNLIMITED,
  };
}
