import type { Clock } from '../clock.js';
import { billingPeriod, type Span } from '../domain/periods.js';
import { newSortableId } from '../domain/secrets.js';
import type { App, Key } from '../domain/types.js';
import type { IngestEvent, LimitState } from '../domain/metering.js';
import { balanceOf, type CreditState } from '../domain/credits.js';
import {
  creditTriggers, lastGrant, monthlyQuotaTriggers, namedLimitTriggers, needsLastGrant, periodJson, type AlertTrigger, type CreditReading,
} from '../domain/alert-triggers.js';
import type { Store } from '../store/store.js';
import type { AlertLog } from './alert-log.js';
import { defaultAlertSettings, type Alert, type AlertKind, type AlertSettings } from '../domain/alerts.js';
import { ingestedNamedLimits } from '../metering/limits.js';

/** What a metering decision tells the alerts: enough to see a threshold crossed without asking the store. */
export interface UsageObservation {
  now: number;
  groupId: string;
  appId: string;
  keyId: string | null;
  period: Span;
  /** Units used in the period, after the decision; null when the decision says nothing of the quota (the usage endpoints). */
  groupUsed: number | null;
  appUsed: number | null;
  /** -1: unlimited. */
  groupQuota: number;
  appQuota: number;
  /** Which per-minute limit refused the call, or null. */
  rateLimited: { scope: 'group' | 'app'; limit: number } | null;
  /** The limits after the decision, when it counted toward them (named limits of window billing_period cross thresholds); null otherwise. */
  limits?: readonly LimitState[] | null;
  /** The group's credits after the decision, when its plan uses credits and the decision spent them; null otherwise. */
  credits?: CreditReading | null;
}

/** Whoever wants to hear about every metering decision (the check path calls it synchronously: it must be cheap). */
export interface UsageObserver {
  observe(observation: UsageObservation): void;
}

/** A group's settings are read again after this long, so a change made through another instance arrives. */
const SETTINGS_TTL_MS = 30_000;
/** Alerts remembered in memory; past this the memory is dropped and the store's unique key does the remembering. */
const MEMORY_LIMIT = 100_000;
/** Keys looked at per scan. */
const SCAN_LIMIT = 10_000;

export interface AlertWatchOptions {
  store: Store;
  clock: Clock;
  log: AlertLog;
  /** How long before a key expires its alert fires. */
  keyExpiryNoticeMs: number;
  /** Called when an alert was recorded with deliveries to make. */
  onDeliveries(): void;
}

/**
 * Sees alerts coming: after each metering decision, an in-memory comparison
 * of the usage against the group's thresholds (no store call, nothing
 * awaited); a threshold newly crossed is recorded in the store afterwards,
 * off the reply path. Memory only spares the store repeated inserts: the
 * store's unique key is what keeps an alert to once per threshold and
 * period, across restarts and instances.
 */
export class AlertWatch implements UsageObserver {
  private readonly settings = new Map<string, { value: AlertSettings; readAt: number }>();
  private readonly reading = new Map<string, Promise<AlertSettings>>();
  /** Alerts recorded (or being recorded) by this process, by their unique key. */
  private readonly raised = new Set<string>();
  private readonly recording = new Set<Promise<void>>();
  /** The amount of each group's last grant (for `credits_low` as a share of it), forgotten when its grants change here or after the TTL. */
  private readonly lastGrants = new Map<string, { amount: number | null; readAt: number }>();

  constructor(private readonly options: AlertWatchOptions) {
    options.store.credits.onChange((groupId) => {
      this.lastGrants.delete(groupId);
    });
  }

  observe(o: UsageObservation): void {
    const cached = this.settings.get(o.groupId);
    if (cached === undefined || o.now - cached.readAt > SETTINGS_TTL_MS) {
      // Decided on the settings once read; meanwhile the caller has its answer.
      this.track(this.settingsOf(o.groupId).then((settings) => this.evaluate(o, settings)));
      return;
    }
    this.evaluate(o, cached.value);
  }

  /**
   * Ingested usage: the totals of each group and app it touched are read
   * from the store, after the ingest has answered. `apps`: the batch's apps,
   * as the ingest already read them.
   */
  observeIngest(events: readonly IngestEvent[], apps: ReadonlyMap<string, App | null>): void {
    const appsByGroup = new Map<string, Set<string>>();
    for (const e of events) {
      let ids = appsByGroup.get(e.groupId);
      if (ids === undefined) appsByGroup.set(e.groupId, (ids = new Set()));
      ids.add(e.appId);
    }
    const usageTypes = new Map<string, Set<string>>();
    for (const e of events) {
      let types = usageTypes.get(e.appId);
      if (types === undefined) usageTypes.set(e.appId, (types = new Set()));
      types.add(e.usageType);
    }
    // The period is the one the ingest answered in, not the one the reads below end in.
    const now = this.options.clock.now();
    for (const [groupId, appIds] of appsByGroup) this.track(this.observeTotals(groupId, [...appIds].map((id) => apps.get(id) ?? null), usageTypes, now));
  }

  /** A group's settings changed through this instance: use them from the next decision on. */
  settingsChanged(settings: AlertSettings): void {
    this.settings.set(settings.groupId, { value: settings, readAt: this.options.clock.now() });
  }

  /** Raises a `key_expiring` alert for each key expiring within the notice period. */
  async scanExpiringKeys(): Promise<void> {
    const now = this.options.clock.now();
    const keys = await this.options.store.alerts.findExpiringKeys(now, now + this.options.keyExpiryNoticeMs, SCAN_LIMIT);
    for (const key of keys) {
      const settings = await this.settingsOf(key.groupId);
      if (settings.kinds.includes('key_expiring')) this.raise(keyExpiring(key, now, this.options.keyExpiryNoticeMs));
    }
  }

  /** Waits for the alerts being recorded (at shutdown, before the store closes). */
  async drain(): Promise<void> {
    while (this.recording.size > 0) await Promise.allSettled([...this.recording]);
  }

  private evaluate(o: UsageObservation, settings: AlertSettings): void {
    const raise = (trigger: AlertTrigger) => this.raise({ ...trigger, groupId: o.groupId, now: o.now });
    if (settings.kinds.includes('quota_threshold')) {
      const owner = { appId: o.appId, keyId: o.keyId };
      monthlyQuotaTriggers('group', owner, o.groupUsed, o.groupQuota, settings.thresholds, o.period).forEach(raise);
      monthlyQuotaTriggers('app', owner, o.appUsed, o.appQuota, settings.thresholds, o.period).forEach(raise);
      if (o.limits) namedLimitTriggers(o.limits, owner, settings.thresholds, o.period).forEach(raise);
    }
    if (o.rateLimited !== null && settings.kinds.includes('rate_limit_hit')) {
      raise({
        kind: 'rate_limit_hit', subject: '', threshold: 0, periodStart: o.period.start,
        data: { scope: o.rateLimited.scope, app_id: o.appId, key_id: o.keyId, rate_limit_per_minute: o.rateLimited.limit, period: periodJson(o.period) },
      });
    }
    if (o.credits) this.creditAlerts(o, o.credits, settings, raise);
  }

  /**
   * The credit alerts: at once, unless `credits_low` is a share of the last
   * grant and its amount is not known here yet (then it is read first, off
   * the reply path; not read again once this period's alert was raised).
   */
  private creditAlerts(o: UsageObservation, reading: CreditReading, settings: AlertSettings, raise: (trigger: AlertTrigger) => void): void {
    const cached = this.lastGrants.get(o.groupId);
    const fresh = cached !== undefined && o.now - cached.readAt <= SETTINGS_TTL_MS;
    if (fresh || !needsLastGrant(settings) || this.raised.has(uniqueKey(o.groupId, 'credits_low', '', 0, o.period.start))) {
      creditTriggers(reading, settings, fresh ? cached.amount : null, o.period).forEach(raise);
      return;
    }
    this.track(this.options.store.credits.creditState(o.groupId).then((state) => {
      creditTriggers(reading, settings, this.rememberLastGrant(o.groupId, state), o.period).forEach(raise);
    }));
  }

  private rememberLastGrant(groupId: string, state: CreditState): number | null {
    const amount = lastGrant(state.grants)?.amount ?? null;
    this.lastGrants.set(groupId, { amount, readAt: this.options.clock.now() });
    return amount;
  }

  /** Records the alert in the background, unless this process did already. */
  private raise(spec: AlertSpec): void {
    const unique = uniqueKey(spec.groupId, spec.kind, spec.subject, spec.threshold, spec.periodStart);
    if (this.raised.has(unique)) return;
    if (this.raised.size >= MEMORY_LIMIT) this.raised.clear();
    this.raised.add(unique);
    const id = newSortableId('alt', spec.now);
    const body = JSON.stringify({ id, type: spec.kind, created_at: new Date(spec.now).toISOString(), group_id: spec.groupId, data: spec.data });
    const alert: Alert = { id, groupId: spec.groupId, kind: spec.kind, subject: spec.subject, threshold: spec.threshold, periodStart: spec.periodStart, createdAt: spec.now, body };
    // setImmediate: the embedded store writes synchronously, and the answer that raised the alert goes out first.
    this.track(new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.options.store.alerts.recordAlert(alert))
      .then(({ deliveries }) => {
        if (deliveries > 0) this.options.onDeliveries();
      }, (error: unknown) => {
        // Forgotten, so that the next decision past the threshold tries again.
        this.raised.delete(unique);
        this.options.log.warn({ err: error, group: spec.groupId, kind: spec.kind }, 'alerts: cannot record an alert');
      }));
  }

  /**
   * Observes the period's totals of a group and of each of its apps (the
   * group and its plan read once), their named billing-period limits, and
   * the group's credits where its plan uses them.
   */
  private async observeTotals(
    groupId: string, apps: ReadonlyArray<App | null>, usageTypes: ReadonlyMap<string, ReadonlySet<string>>, now: number,
  ): Promise<void> {
    const { store } = this.options;
    const group = await store.getGroup(groupId);
    const plan = group === null ? null : await store.getPlan(group.planId);
    if (group === null || plan === null) return;
    const period = billingPeriod(now, plan.timeZone);
    const base = { now, groupId, keyId: null, period, groupUsed: null, appUsed: null, groupQuota: -1, appQuota: -1, rateLimited: null };
    for (const app of apps) {
      if (app === null) continue;
      const named = ingestedNamedLimits({ plan, group, app }, usageTypes.get(app.id) ?? new Set());
      const limits = named.length === 0 ? null : await store.readLimits({ groupId, now, period, limits: named });
      // Ingested usage can only cross a quota threshold (no rate limit applies to it): without a quota, nothing to read.
      const totals = plan.monthlyQuota <= 0 && (app.monthlyQuota ?? -1) <= 0 ? null : await store.periodUsage(groupId, app.id, period);
      if (limits === null && totals === null) continue;
      this.observe({ ...base, appId: app.id, ...totals, groupQuota: plan.monthlyQuota, appQuota: app.monthlyQuota ?? -1, limits });
    }
    const first = apps.find((app) => app !== null);
    if (plan.credits === null || plan.credits === undefined || first === undefined) return;
    const state = await store.credits.creditState(groupId);
    this.rememberLastGrant(groupId, state);
    this.observe({ ...base, appId: first!.id, credits: { balance: balanceOf(state.grants, state.debt, now), refused: false } });
  }

  private settingsOf(groupId: string): Promise<AlertSettings> {
    let reading = this.reading.get(groupId);
    if (reading === undefined) {
      reading = this.options.store.alerts.getAlertSettings(groupId)
        .then((own) => {
          const value = own ?? defaultAlertSettings(groupId);
          this.settings.set(groupId, { value, readAt: this.options.clock.now() });
          return value;
        })
        .finally(() => this.reading.delete(groupId));
      this.reading.set(groupId, reading);
    }
    return reading;
  }

  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((error: unknown) => this.options.log.warn({ err: error }, 'alerts: cannot evaluate usage'))
      .finally(() => this.recording.delete(tracked));
    this.recording.add(tracked);
  }
}

interface AlertSpec {
  kind: AlertKind;
  groupId: string;
  subject: string;
  threshold: number;
  periodStart: number;
  now: number;
  data: Record<string, unknown>;
}

function keyExpiring(key: Key, now: number, noticeMs: number): AlertSpec {
  return {
    kind: 'key_expiring', groupId: key.groupId, subject: key.id, threshold: 0, periodStart: key.expiresAt!, now,
    data: {
      key_id: key.id, app_id: key.appId, name: key.name, hint: key.hint, expires_at: new Date(key.expiresAt!).toISOString(),
      notice_days: Math.round(noticeMs / 86_400_000),
    },
  };
}

/** An alert's unique key, as the store's: one alert per group, kind, subject, threshold and period start. */
function uniqueKey(groupId: string, kind: AlertKind, subject: string, threshold: number, periodStart: number): string {
  return [groupId, kind, subject, threshold, periodStart].join('\u0000');
}
