import type { Scope } from '../engine/ports.js';
import type { Span } from '../domain/periods.js';
import type { MeterRequest, MeterResult } from '../domain/metering.js';
import { advance, evaluate, latestRetry, MINUTE_MS, rateState, type WindowCounter } from '../domain/sliding-window.js';

interface QuotaCounter {
  periodStart: number;
  periodEnd: number;
  used: number;
}


const NONE: Array<{ scope: Scope; id: string }> = [];

/**
 * Per-minute windows and monthly counters for one process, decided
 * synchronously so that no two calls can interleave between the check and
 * the update. Quota counters are seeded from durable storage (`setUsage`)
 * the first time a group or app is seen in a period (`missingUsage` says
 * which) and kept exact from then on, which holds as long as this process is
 * the only writer (the embedded store).
 */
export class LocalLimiter {
  private readonly windows = new Map<string, WindowCounter>();
  private readonly quotas = new Map<string, QuotaCounter>();

  /** The counters `admit` and `usage` need for this group, app and period that are not loaded yet. */
  missingUsage(groupId: string, appId: string, period: Span): Array<{ scope: Scope; id: string }> {
    // The common case, on every call: both loaded, nothing to allocate.
    if (this.quotas.get(`group:${groupId}`)?.periodStart === period.start && this.quotas.get(`app:${appId}`)?.periodStart === period.start) return NONE;
    return ([['group', groupId], ['app', appId]] as const)
      .filter(([scope, id]) => this.quotas.get(`${scope}:${id}`)?.periodStart !== period.start)
      .map(([scope, id]) => ({ scope, id }));
  }

  /** Seeds a counter with the units durable storage holds for the period. */
  setUsage(scope: Scope, id: string, period: Span, used: number): void {
    const key = `${scope}:${id}`;
    // Calls admitted while the load was under way are already counted in a counter for this period.
    if (this.quotas.get(key)?.periodStart === period.start) return;
    this.quotas.set(key, { periodStart: period.start, periodEnd: period.end, used });
  }

  /**
   * Applies every limit all-or-nothing: when any refuses, nothing is consumed.
   * When all admit, both windows and (in `record` mode) both quotas take the cost.
   */
  admit(request: MeterRequest): MeterResult {
    const { now, cost, limits } = request;
    const groupWindow = this.window('group', request.groupId, limits.groupRatePerMinute, now);
    const appWindow = this.window('app', request.appId, limits.appRatePerMinute, now);
    const groupQuota = this.quota('group', request.groupId, request.period);
    const appQuota = this.quota('app', request.appId, request.period);

    const groupVerdict = groupWindow && evaluate(groupWindow, now, MINUTE_MS, limits.groupRatePerMinute, cost);
    const appVerdict = appWindow && evaluate(appWindow, now, MINUTE_MS, limits.appRatePerMinute, cost);
    const checkQuota = request.mode !== 'rate_only';
    const groupOver = checkQuota && overQuota(groupQuota.used, cost, limits.groupMonthlyQuota);
    const appOver = checkQuota && overQuota(appQuota.used, cost, limits.appMonthlyQuota);
    const groupLimited = groupVerdict !== null && !groupVerdict.allowed;
    const appLimited = appVerdict !== null && !appVerdict.allowed;

    if (groupOver || appOver || groupLimited || appLimited) {
      // The first limit that refused is named; the retry waits for every one that refused.
      const code = groupOver || appOver ? 'quota_exceeded' : 'rate_limited';
      const deniedBy = groupOver || (!appOver && groupLimited) ? 'group' : 'app';
      const quotaUntil = request.period.end - now;
      const waits = [
        ...(groupOver || appOver ? [quotaUntil] : []),
        ...(groupLimited ? [groupVerdict.retryAfterMs] : []),
        ...(appLimited ? [appVerdict.retryAfterMs] : []),
      ];
      return {
        allowed: false,
        code,
        deniedBy,
        retryAfterMs: latestRetry(waits),
        groupUsed: groupQuota.used,
        appUsed: appQuota.used,
        groupRate: groupWindow && rateState(groupWindow, now, MINUTE_MS, limits.groupRatePerMinute),
        appRate: appWindow && rateState(appWindow, now, MINUTE_MS, limits.appRatePerMinute),
        eventId: null,
        replayed: false,
      };
    }

    if (groupWindow) groupWindow.current += cost;
    if (appWindow) appWindow.current += cost;
    if (checkQuota) {
      groupQuota.used += cost;
      appQuota.used += cost;
    }
    return {
      allowed: true,
      code: 'ok',
      deniedBy: null,
      groupUsed: groupQuota.used,
      appUsed: appQuota.used,
      // The verdicts were worked out on the counts with this call's cost: what the windows now hold.
      groupRate: groupWindow && rateState(groupWindow, now, MINUTE_MS, limits.groupRatePerMinute, groupVerdict!),
      appRate: appWindow && rateState(appWindow, now, MINUTE_MS, limits.appRatePerMinute, appVerdict!),
      retryAfterMs: null,
      eventId: null,
      replayed: false,
    };
  }

  /** Gives back what an admitted call consumed, when it could not be written. */
  refund(request: MeterRequest): void {
    this.adjust(request, -request.cost);
  }

  /**
   * Changes what an admitted call consumed by `delta` units (a reservation
   * settled above or below its estimate). Never refuses: the call was served.
   */
  adjust(request: MeterRequest, delta: number): void {
    for (const [scope, id] of [['group', request.groupId], ['app', request.appId]] as const) {
      const window = this.windows.get(`${scope}:${id}`);
      if (window && window.windowStart <= request.now) window.current = Math.max(0, window.current + delta);
      const quota = this.quotas.get(`${scope}:${id}`);
      if (quota && quota.periodStart === request.period.start && request.mode !== 'rate_only') {
        quota.used = Math.max(0, quota.used + delta);
      }
    }
  }

  /**
   * Adds usage that bypassed `admit` (ingested events) to the counters
   * loaded for the period holding `ts`; a counter not loaded yet reads it
   * from storage when it is.
   */
  addUsage(groupId: string, appId: string, ts: number, count: number): void {
    for (const key of [`group:${groupId}`, `app:${appId}`]) {
      const quota = this.quotas.get(key);
      if (quota && ts >= quota.periodStart && ts < quota.periodEnd) quota.used += count;
    }
  }

  /** Units used in the period by the group and the app. */
  usage(groupId: string, appId: string, period: Span): { groupUsed: number; appUsed: number } {
    return { groupUsed: this.quota('group', groupId, period).used, appUsed: this.quota('app', appId, period).used };
  }

  /**
   * Replaces a loaded counter's units (relaxed scale-out mode: the shared
   * total as of the last sync, plus what this process counted since).
   * A counter not loaded, or loaded for another period, is left alone.
   */
  rebaseUsage(scope: Scope, id: string, period: Span, used: number): void {
    const quota = this.quotas.get(`${scope}:${id}`);
    if (quota !== undefined && quota.periodStart === period.start) quota.used = used;
  }

  /** Unloads a counter: the next call of its group or app loads it again from storage. */
  forgetUsage(scope: Scope, id: string): void {
    this.quotas.delete(`${scope}:${id}`);
  }

  /** Unloads a group's or app's counter and its window. */
  forget(scope: Scope, id: string): void {
    this.forgetUsage(scope, id);
    this.windows.delete(`${scope}:${id}`);
  }

  /** Replaces a window's counts, unless the window kept here is already a later one. */
  rebaseWindow(scope: Scope, id: string, counter: WindowCounter): void {
    const key = `${scope}:${id}`;
    const kept = this.windows.get(key);
    if (kept === undefined || kept.windowStart <= counter.windowStart) this.windows.set(key, { ...counter });
  }

  /** Start of the window kept for a group or app, if any: where an adjustment lands. */
  windowStartOf(scope: Scope, id: string): number | undefined {
    return this.windows.get(`${scope}:${id}`)?.windowStart;
  }

  /** Forgets windows idle for two minutes or more; their state would be all zero anyway. */
  sweep(now: number): void {
    for (const [key, window] of this.windows) {
      if (now - window.windowStart >= 2 * MINUTE_MS) this.windows.delete(key);
    }
  }

  private window(scope: Scope, id: string, limit: number, now: number): WindowCounter | null {
    if (limit < 0) return null;
    const key = `${scope}:${id}`;
    const window = advance(this.windows.get(key), now, MINUTE_MS);
    this.windows.set(key, window);
    return window;
  }

  private quota(scope: Scope, id: string, period: Span): QuotaCounter {
    const counter = this.quotas.get(`${scope}:${id}`);
    if (counter === undefined || counter.periodStart !== period.start) {
      throw new Error(`usage of ${scope} "${id}" for the period starting ${new Date(period.start).toISOString()} is not loaded`);
    }
    return counter;
  }
}

function overQuota(used: number, cost: number, quota: number): boolean {
  return quota >= 0 && used + cost > quota;
}
