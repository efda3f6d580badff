import type { Span } from '../domain/periods.js';
import { CREDITS, type AppliedLimit, type LimitState, type MeterRequest, type MeterResult } from '../domain/metering.js';
import { CreditBalances } from './credit-balances.js';
import { consumes, counterId, creditCharge, judge, limitStates, windowMs, type Reading } from '../domain/limit-decision.js';
import { addAt, advance, type WindowCounter } from '../domain/sliding-window.js';
import { isSeededWindow } from '../domain/limits.js';

interface PeriodCounter {
  periodStart: number;
  periodEnd: number;
  used: number;
}

interface Window extends WindowCounter {
  ms: number;
}

const NONE: AppliedLimit[] = [];

/**
 * The counters of every limit, for one process, decided synchronously so
 * that no two calls can interleave between the check and the update. A
 * billing period's counter is seeded from durable storage (`setUsage`) the
 * first time it is needed in a period (`missingUsage` says which) and kept
 * exact from then on, which holds as long as this process is the only
 * writer (the embedded store). An hour or day window is seeded the same way
 * the first time it is needed (`missingWindows`, `setWindow`); a second or
 * minute window starts empty.
 */
export class LocalLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly periods = new Map<string, PeriodCounter>();
  /** The groups' credits, decided with the limits in the same synchronous step. */
  readonly credits = new CreditBalances();

  /** The billing-period limits whose counters for this period are not loaded yet. */
  missingUsage(limits: readonly AppliedLimit[], period: Span): AppliedLimit[] {
    let missing: AppliedLimit[] | null = null;
    for (const limit of limits) {
      if (limit.window !== 'billing_period' || this.periods.get(counterId(limit))?.periodStart === period.start) continue;
      (missing ??= []).push(limit);
    }
    // The common case, on every call: all loaded, nothing allocated.
    return missing ?? NONE;
  }

  /** Seeds a period counter with the units durable storage holds for the period. */
  setUsage(limit: AppliedLimit, period: Span, used: number): void {
    const id = counterId(limit);
    // Calls admitted while the load was under way are already counted in a counter for this period.
    if (this.periods.get(id)?.periodStart === period.start) return;
    this.periods.set(id, { periodStart: period.start, periodEnd: period.end, used });
  }

  /** The hour and day limits whose windows are not loaded (seeded from storage) yet; none allocated when all are. */
  missingWindows(limits: readonly AppliedLimit[]): AppliedLimit[] {
    let missing: AppliedLimit[] | null = null;
    for (const limit of limits) {
      if (!isSeededWindow(limit.window) || this.windows.has(counterId(limit))) continue;
      (missing ??= []).push(limit);
    }
    return missing ?? NONE;
  }

  /** Seeds a window with the counts durable storage holds, unless it is loaded already (what it holds since is newer). */
  setWindow(limit: AppliedLimit, counter: WindowCounter): void {
    const id = counterId(limit);
    if (!this.windows.has(id)) this.windows.set(id, { ...counter, ms: windowMs(limit)! });
  }

  /**
   * Applies every limit all-or-nothing: when any refuses, nothing is
   * consumed; when all admit, each limit the call's mode consumes takes its cost.
   */
  admit(request: MeterRequest): MeterResult {
    const readings = this.read(request);
    const judgement = judge(request, readings);
    const charge = creditCharge(request);
    const credits = request.credits === undefined ? null : this.credits.plan(request.groupId, judgement.allowed ? charge : 0, request.now, false);
    if (judgement.allowed && credits !== null && !credits.allowed) {
      return {
        allowed: false, code: 'insufficient_credits', deniedBy: CREDITS, retryAfterMs: null, limits: limitStates(request, readings),
        eventId: null, replayed: false, credits: { charged: 0, balance: credits.balanceAfter },
      };
    }
    if (judgement.allowed) {
      request.limits.forEach((limit, i) => {
        if (!consumes(limit, request.mode)) return;
        const reading = readings[i]!;
        if (reading.kind === 'window') reading.counter.current += request.cost;
        else this.period(limit, request.period).used += request.cost;
        if (reading.kind === 'period') readings[i] = { kind: 'period', used: reading.used + request.cost };
      });
      if (credits !== null) this.credits.apply(request.groupId, credits.movements);
    }
    return {
      ...judgement, limits: limitStates(request, readings), eventId: null, replayed: false,
      credits: credits === null ? null : { charged: judgement.allowed ? charge : 0, balance: credits.balanceAfter },
      ...(credits !== null && credits.movements.length > 0 && judgement.allowed ? { movements: credits.movements } : {}),
    };
  }

  /** Every limit's state now, consuming nothing (period counters must be loaded). */
  states(request: Pick<MeterRequest, 'now' | 'period' | 'limits'>): LimitState[] {
    return limitStates(request, request.limits.map((limit) => (limit.window === 'billing_period'
      ? { kind: 'period', used: this.period(limit, request.period).used }
      : { kind: 'window', counter: advance(this.windows.get(counterId(limit)), request.now, windowMs(limit)!) })));
  }

  /**
   * Changes what an admitted call consumed by `delta` units (a reservation
   * settled above or below its estimate, or a call that could not be
   * written). Never refuses: the call was served.
   */
  adjust(request: MeterRequest, delta: number): void {
    for (const limit of request.limits) {
      if (!consumes(limit, request.mode)) continue;
      const id = counterId(limit);
      if (limit.window !== 'billing_period') {
        const window = this.windows.get(id);
        if (window && window.windowStart <= request.now) window.current = Math.max(0, window.current + delta);
        continue;
      }
      const counter = this.periods.get(id);
      if (counter && counter.periodStart === request.period.start) counter.used = Math.max(0, counter.used + delta);
    }
  }

  /**
   * Adds usage that bypassed `admit` (ingested events) to the period
   * counters loaded for the period holding `ts`; a counter not loaded yet
   * reads it from storage when it is.
   */
  addUsage(limits: readonly AppliedLimit[], ts: number, count: number): void {
    for (const limit of limits) {
      const counter = this.periods.get(counterId(limit));
      if (counter && ts >= counter.periodStart && ts < counter.periodEnd) counter.used += count;
    }
  }

  /**
   * Adds usage that bypassed `admit` (ingested events, stamped `ts`) to the
   * hour and day windows loaded; a window not loaded yet reads it from
   * storage when it is. Second and minute windows count only decided calls.
   */
  addWindowUsage(limits: readonly AppliedLimit[], ts: number, count: number): void {
    for (const limit of limits) {
      if (!isSeededWindow(limit.window)) continue;
      const id = counterId(limit);
      const window = this.windows.get(id);
      if (window !== undefined) this.windows.set(id, { ...addAt(window, ts, count, window.ms), ms: window.ms });
    }
  }

  /** Units a period counter holds (it must be loaded). */
  used(limit: AppliedLimit, period: Span): number {
    return this.period(limit, period).used;
  }

  /**
   * Replaces a loaded period counter's units (relaxed scale-out mode: the
   * shared total as of the last sync, plus what this process counted since).
   * A counter not loaded, or loaded for another period, is left alone.
   */
  rebaseUsage(limit: AppliedLimit, period: Span, used: number): void {
    const counter = this.periods.get(counterId(limit));
    if (counter !== undefined && counter.periodStart === period.start) counter.used = used;
  }

  /** Unloads a period counter: the next call that needs it loads it again from storage. */
  forgetUsage(limit: AppliedLimit): void {
    this.periods.delete(counterId(limit));
  }

  /** Unloads a limit's counter, whichever kind it is. */
  forget(limit: AppliedLimit): void {
    this.forgetUsage(limit);
    this.windows.delete(counterId(limit));
  }

  /** Replaces a window's counts, unless the window kept here is already a later one. */
  rebaseWindow(limit: AppliedLimit, counter: WindowCounter): void {
    const id = counterId(limit);
    const kept = this.windows.get(id);
    if (kept === undefined || kept.windowStart <= counter.windowStart) this.windows.set(id, { ...counter, ms: windowMs(limit)! });
  }

  /** Start of the window kept for a limit, if any: where an adjustment lands. */
  windowStartOf(limit: AppliedLimit): number | undefined {
    return this.windows.get(counterId(limit))?.windowStart;
  }

  /** Forgets windows idle for two of their lengths or more; their state would be all zero anyway. */
  sweep(now: number): void {
    for (const [id, window] of this.windows) {
      if (now - window.windowStart >= 2 * window.ms) this.windows.delete(id);
    }
  }

  /** Each limit's counter as the call finds it, windows moved forward to `now`. */
  private read(request: MeterRequest): Reading[] {
    return request.limits.map((limit): Reading => {
      if (limit.window === 'billing_period') return { kind: 'period', used: this.period(limit, request.period).used };
      const id = counterId(limit);
      const ms = windowMs(limit)!;
      const kept = this.windows.get(id);
      const advanced = advance(kept, request.now, ms);
      const window: Window = advanced === kept ? kept : { ...advanced, ms };
      if (window !== kept) this.windows.set(id, window);
      return { kind: 'window', counter: window };
    });
  }

  private period(limit: AppliedLimit, period: Span): PeriodCounter {
    const counter = this.periods.get(counterId(limit));
    if (counter === undefined || counter.periodStart !== period.start) {
      throw new Error(`usage of limit "${limit.name}" of ${limit.scope} "${limit.scopeId}" for the period starting ${new Date(period.start).toISOString()} is not loaded`);
    }
    return counter;
  }
}
