import type { AlertKind, AlertSettings, CreditsLow } from './alerts.js';
import type { CreditGrant } from './credits.js';
import { isShorthandMonth } from './limits.js';
import type { LimitState } from './metering.js';
import type { Span } from './periods.js';

/**
 * Which alerts a metering decision (or ingested usage) raises: the rule
 * "does this crossing fire", written once, with no store and no clock.
 * Each trigger carries the alert's unique key (kind, subject, threshold,
 * period start): the store records an alert once per key, so a second
 * crossing in the same period raises the same trigger and nothing more.
 */

/** An alert to raise, before it is given an id, a group and a time. */
export interface AlertTrigger {
  kind: AlertKind;
  subject: string;
  threshold: number;
  periodStart: number;
  /** The webhook body's `data`. */
  data: Record<string, unknown>;
}

/** Who made the usage: the ids a limit's scope picks its counter's owner from. */
export interface UsageOwner {
  appId: string;
  /** Null for ingested usage (events carry no key). */
  keyId: string | null;
}

export function periodJson(period: Span): { from_date: string; to_date: string } {
  return { from_date: new Date(period.start).toISOString(), to_date: new Date(period.end).toISOString() };
}

/**
 * The thresholds (percentages, ascending) that `used` of `units` has
 * reached; none for a limit of no units or an unlimited one.
 *
 * @example
 * thresholdsReached(800, 1000, [80, 100]); // [80]: integer arithmetic, 80% of 1,000 is reached at exactly 800
 */
export function thresholdsReached(used: number, units: number, thresholds: readonly number[]): number[] {
  if (units <= 0) return [];
  const reached: number[] = [];
  for (const threshold of thresholds) {
    if (used * 100 < threshold * units) break;
    reached.push(threshold);
  }
  return reached;
}

/**
 * The `quota_threshold` alerts of the shorthand monthly quotas (the group's,
 * or an app's own): subject '' for the group, the app id for the app, and
 * the body they have always had.
 */
export function monthlyQuotaTriggers(
  scope: 'group' | 'app', owner: UsageOwner, used: number | null, quota: number, thresholds: readonly number[], period: Span,
): AlertTrigger[] {
  if (used === null) return [];
  return thresholdsReached(used, quota, thresholds).map((threshold) => ({
    kind: 'quota_threshold', subject: scope === 'group' ? '' : owner.appId, threshold, periodStart: period.start,
    data: {
      scope, app_id: scope === 'group' ? null : owner.appId, threshold_percent: threshold, monthly_used: used, monthly_quota: quota,
      period: periodJson(period),
    },
  }));
}

/**
 * The subject of a named limit's alerts: its name, and for a limit of an
 * app or a key, whose counter it is (each app's counter crosses on its own).
 * Never '' nor a bare id, so it cannot meet the monthly quotas' subjects.
 */
export function limitSubject(name: string, scope: LimitState['scope'], scopeId: string): string {
  return scope === 'group' ? `limit:${name}` : `limit:${name}:${scope}:${scopeId}`;
}

/**
 * The `quota_threshold` alerts of the named limits of window
 * `billing_period` among `states` (a decision's limits after it): one per
 * limit and threshold reached. The shorthand `month` and `app-month` are
 * left to `monthlyQuotaTriggers`, and a key's limit is skipped where the
 * usage names no key.
 */
export function namedLimitTriggers(states: readonly LimitState[], owner: UsageOwner, thresholds: readonly number[], period: Span): AlertTrigger[] {
  const triggers: AlertTrigger[] = [];
  for (const state of states) {
    if (state.window !== 'billing_period' || isShorthandMonth(state.name)) continue;
    const scopeId = state.scope === 'group' ? '' : state.scope === 'app' ? owner.appId : owner.keyId;
    if (scopeId === null) continue;
    for (const threshold of thresholdsReached(state.used, state.units, thresholds)) {
      triggers.push({
        kind: 'quota_threshold', subject: limitSubject(state.name, state.scope, scopeId), threshold, periodStart: period.start,
        data: {
          limit: state.name, scope: state.scope, app_id: state.scope === 'group' ? null : owner.appId,
          key_id: state.scope === 'key' ? owner.keyId : null, threshold_percent: threshold, used: state.used, units: state.units,
          period: periodJson(period),
        },
      });
    }
  }
  return triggers;
}

/** A group's credits as a decision left them. */
export interface CreditReading {
  balance: number;
  /** True when the decision was a check refused for want of credits. */
  refused: boolean;
}

/**
 * The balance under which a group's credits are low: the setting's amount,
 * or its share of the last grant's amount; null when there is no line
 * (no setting, or a share and no grant yet).
 */
export function creditsLowLine(setting: CreditsLow | null, lastGrantAmount: number | null): number | null {
  if (setting === null) return null;
  if ('below' in setting) return setting.below;
  return lastGrantAmount === null ? null : setting.belowShare * lastGrantAmount;
}

/** The grant a share is taken of: the newest one not voided (expired or not), by creation, then id. */
export function lastGrant<G extends Pick<CreditGrant, 'id' | 'createdAt' | 'voidedAt'>>(grants: readonly G[]): G | null {
  let last: G | null = null;
  for (const grant of grants) {
    if (grant.voidedAt !== null) continue;
    if (last === null || grant.createdAt > last.createdAt || (grant.createdAt === last.createdAt && grant.id > last.id)) last = grant;
  }
  return last;
}

/**
 * The credit alerts a reading raises, once per billing period each:
 * `credits_exhausted` when the balance is 0 or less or a check was refused
 * for want of credits; `credits_low` when the balance is under the line
 * (strictly). Only the kinds the settings turn on.
 */
export function creditTriggers(
  reading: CreditReading, settings: Pick<AlertSettings, 'kinds' | 'creditsLow'>, lastGrantAmount: number | null, period: Span,
): AlertTrigger[] {
  const triggers: AlertTrigger[] = [];
  const base = { subject: '', threshold: 0, periodStart: period.start };
  if (settings.kinds.includes('credits_low')) {
    const line = creditsLowLine(settings.creditsLow, lastGrantAmount);
    if (line !== null && reading.balance < line) {
      triggers.push({ ...base, kind: 'credits_low', data: { balance: reading.balance, below: line, ...creditsLowJson(settings.creditsLow!), period: periodJson(period) } });
    }
  }
  if (settings.kinds.includes('credits_exhausted') && (reading.balance <= 0 || reading.refused)) {
    triggers.push({
      ...base, kind: 'credits_exhausted',
      data: { balance: reading.balance, reason: reading.refused ? 'insufficient_credits' : 'balance', period: periodJson(period) },
    });
  }
  return triggers;
}

/** Whether `credits_low` needs the last grant's amount to decide (a share of it), under these settings. */
export function needsLastGrant(settings: Pick<AlertSettings, 'kinds' | 'creditsLow'>): boolean {
  return settings.kinds.includes('credits_low') && settings.creditsLow !== null && 'belowShare' in settings.creditsLow;
}

/** The setting as the API writes it. */
export function creditsLowJson(setting: CreditsLow): { below: number } | { below_share: number } {
  return 'below' in setting ? { below: setting.below } : { below_share: setting.belowShare };
}
