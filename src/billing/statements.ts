import { DateTime } from 'luxon';
import type { Static } from 'typebox';
import type { StatementSchema } from '../contract/statements.js';
import { balanceOf, creditsByKind, grantedIn } from '../domain/credits.js';
import { billingPeriod, type Span } from '../domain/periods.js';
import { creditSource } from '../store/credit-source.js';
import type { Group, Plan, UsageDimension } from '../domain/types.js';
import { foldSole } from '../store/rollup-buffer.js';
import { decompose } from '../domain/rollup-segments.js';
import type { Store, StoredStatement } from '../store/store.js';
import { formatMinor, formatScaled, minorDigits, minorToNumber, PRICE_DECIMALS, toMinor } from './money.js';
import { charge, pricesFromWire, pricesToWire, scheduleFor, type Pricing } from './pricing.js';

/**
 * Billing statements: a group's usage in each billing month, priced with its
 * plan. A period closes `graceMs` after it ends; the first time it is asked
 * for after that (by the admin API, the CLI or the group's own usage call) its
 * statement is computed and stored, and never changes again. Usage that
 * reaches a closed period later (event ingest accepts past timestamps) is
 * billed as an adjustment on the next statement to close.
 *
 * Amounts are per usage type: graduated tiers apply to the group's total
 * units of a type in the period, so a type's amount cannot be split by app
 * without choosing which app's units fell in which tier. Each statement also
 * lists the units per app, to reconcile the lines with the apps' usage.
 */

/** A statement as the API sends it and the store keeps it: its one definition is the schema (src/contract/statements.ts). */
export type StatementDocument = Static<typeof StatementSchema>;
export type UsageLine = StatementDocument['lines'][number];
export type TierLine = UsageLine['tiers'][number];
export type AppUnits = StatementDocument['apps'][number];
export type AdjustmentLine = StatementDocument['adjustments'][number];
export type StatementPricing = StatementDocument['pricing'];
export type CreditsSection = NonNullable<StatementDocument['credits']>;

/** A billing period as a statement bills it: its label and the span of usage it covers. */
export interface PeriodSpan extends Span {
  period: string;
}

export interface StatementSettings {
  /** How long after its end a period closes. */
  graceMs: number;
  /**
   * How far back usage may still arrive (the ingest window, with a margin):
   * closed periods that ended longer ago than this before the last closing
   * cannot receive any, and are not looked at again.
   */
  lateWindowMs: number;
}


const iso = (ms: number) => new Date(ms).toISOString();

function monthSpan(ms: number, zone: string): PeriodSpan {
  const month = billingPeriod(ms, zone);
  return { period: DateTime.fromMillis(month.start, { zone }).toFormat('yyyy-LL'), start: month.start, end: month.end };
}

/**
 * The period after `previous`: it starts where `previous` ended, so no usage
 * is billed twice or skipped even when the plan's time zone changed between
 * them, and ends with the plan's billing month.
 */
export function spanAfter(previous: PeriodSpan, zone: string): PeriodSpan {
  let month = monthSpan(previous.end, zone);
  // A zone moved west can put the old end inside the same month label again.
  if (month.period <= previous.period) month = monthSpan(month.end, zone);
  return { period: month.period, start: previous.end, end: month.end };
}

/** A group's statements begin with the billing month it was created in. */
export function firstSpan(group: Group, zone: string): PeriodSpan {
  return monthSpan(group.createdAt, zone);
}

export function parseDocument(stored: StoredStatement): StatementDocument {
  return JSON.parse(stored.document) as StatementDocument;
}

export class Statements {
  constructor(private readonly store: Store, private readonly settings: StatementSettings) {}

  /**
   * Closes, oldest first, every period of the group whose grace period is
   * over, and returns the latest closed statement (null before the first).
   */
  async closeDue(group: Group, plan: Plan, now: number): Promise<StoredStatement | null> {
    let latest = (await this.store.listStatements(group.id, { limit: 1 })).items[0] ?? null;
    for (;;) {
      const span = latest === null ? firstSpan(group, plan.timeZone) : spanAfter(latest, plan.timeZone);
      if (span.end + this.settings.graceMs > now) return latest;
      const document = await this.compute(group, plan, span, latest, now, 'closed');
      latest = await this.store.closeStatement({
        groupId: group.id, period: span.period, start: span.start, end: span.end, closedAt: now,
        currency: document.currency, total: document.total, document: JSON.stringify(document),
      });
    }
  }

  /** The periods after the latest closed one up to the one holding `now`: open, at most two (one may be in its grace period). */
  openSpans(group: Group, plan: Plan, latest: StoredStatement | null, now: number): PeriodSpan[] {
    const spans: PeriodSpan[] = [];
    let span = latest === null ? firstSpan(group, plan.timeZone) : spanAfter(latest, plan.timeZone);
    for (;;) {
      spans.push(span);
      if (span.end > now) return spans;
      span = spanAfter(span, plan.timeZone);
    }
  }

  /** The statement of an open period as it stands at `now`. */
  preview(group: Group, plan: Plan, span: PeriodSpan, latest: StoredStatement | null, now: number): Promise<StatementDocument> {
    return this.compute(group, plan, span, latest, now, 'open');
  }

  private async compute(group: Group, plan: Plan, span: PeriodSpan, latest: StoredStatement | null, now: number, status: 'open' | 'closed'): Promise<StatementDocument> {
    const digits = minorDigits(plan.currency);
    const [byType, byApp] = await Promise.all([
      this.unitsBy(group.id, 'usage_type', span),
      this.unitsBy(group.id, 'app_id', span),
    ]);
    const lines = [...byType.keys()].sort().map((usageType) => usageLine(plan, usageType, byType.get(usageType)!.units, digits));
    const apps = [...byApp.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([appId, u]) => ({ app_id: appId, units: u.units, usage_type: u.sole ?? '' }));
    const adjustments = latest === null ? [] : await this.adjustments(group.id, latest.closedAt - this.settings.lateWindowMs, digits);
    const total = [...lines, ...adjustments].reduce((sum, line) => sum + BigInt(line.amount), 0n);
    const credits = await this.credits(group, plan, span, byType, now);
    return {
      group_id: group.id, period: span.period, period_start: iso(span.start), period_end: iso(span.end),
      status, preview: status === 'open', closes_at: iso(span.end + this.settings.graceMs), closed_at: status === 'closed' ? iso(now) : null,
      currency: plan.currency,
      pricing: { plan_id: plan.id, currency: plan.currency, price_per_call: plan.pricePerCall, prices: pricesToWire(plan.prices) },
      lines, apps, adjustments, ...(credits === undefined ? {} : { credits }),
      total: minorToNumber(total), total_decimal: formatMinor(minorToNumber(total), digits),
    };
  }

  /**
   * The credits section, when the plan uses credits: granted in the span,
   * and its units of each kind at the plan's prices. While the period is
   * under way, its grants are read as the engine loads them (the recurring
   * grant issued first), and the balance is the group's now; once it has
   * ended, the balance at its end cannot be known (grants keep only their
   * total use), so it is null.
   */
  private async credits(group: Group, plan: Plan, span: Span, byType: Map<string, { units: number }>, now: number): Promise<CreditsSection | undefined> {
    if (plan.credits === null) return undefined;
    const underway = span.start <= now && now < span.end;
    const state = underway
      ? await creditSource(this.store.credits, () => now).load(group.id, billingPeriod(now, plan.timeZone), plan.credits.grantEveryPeriod)
      : await this.store.credits.creditState(group.id);
    const used = creditsByKind(plan.credits.perUnit, [...byType.keys()].sort().map((t) => [t, byType.get(t)!.units] as const));
    return {
      granted: grantedIn(state.grants, span), used: used.total,
      by_usage_type: used.kinds.map((k) => ({ usage_type: k.usageType, units: k.units, credits: k.credits })),
      balance: underway ? balanceOf(state.grants, state.debt, now) : null, balance_at: underway ? iso(now) : null,
    };
  }

  /**
   * Late usage of the closed periods that could still receive some (ended
   * after `since`): for each period and usage type, the units now in the
   * rollups beyond those billed so far (by its statement and the
   * adjustments after it), and the amount that brings what was charged for
   * them to the rounded price of all of them at that period's prices. The
   * amounts of a chain of adjustments thus add up, with the first line, to
   * one rounding of the final units: nothing billed twice or lost.
   */
  private async adjustments(groupId: string, since: number, digits: number): Promise<AdjustmentLine[]> {
    const recent = await this.closedSince(groupId, since);
    const lines: AdjustmentLine[] = [];
    for (const [i, closed] of recent.entries()) {
      const billed = new Map<string, { units: number; amount: bigint }>();
      const add = (usageType: string, units: number, amount: number) => {
        const b = billed.get(usageType) ?? { units: 0, amount: 0n };
        billed.set(usageType, { units: b.units + units, amount: b.amount + BigInt(amount) });
      };
      const document = parseDocument(closed);
      for (const line of document.lines) add(line.usage_type, line.units, line.amount);
      for (const later of recent.slice(i + 1)) {
        for (const adj of parseDocument(later).adjustments) if (adj.period === closed.period) add(adj.usage_type, adj.units, adj.amount);
      }
      const pricing: Pricing = {
        currency: document.pricing.currency, pricePerCall: document.pricing.price_per_call, prices: pricesFromWire(document.pricing.prices),
      };
      const units = await this.unitsBy(groupId, 'usage_type', closed);
      for (const usageType of [...new Set([...units.keys(), ...billed.keys()])].sort()) {
        const now = units.get(usageType)?.units ?? 0;
        const before = billed.get(usageType) ?? { units: 0, amount: 0n };
        if (now === before.units) continue;
        const amount = toMinor(charge(scheduleFor(pricing, usageType), now).nanos, minorDigits(pricing.currency)) - before.amount;
        lines.push({
          period: closed.period, usage_type: usageType, units: now - before.units,
          amount: minorToNumber(amount), amount_decimal: formatMinor(minorToNumber(amount), digits),
        });
      }
    }
    return lines;
  }

  /** The closed statements whose period ended after `since`, oldest first. */
  private async closedSince(groupId: string, since: number): Promise<StoredStatement[]> {
    const found: StoredStatement[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.listStatements(groupId, { limit: 12, ...(after === undefined ? {} : { after }) });
      for (const s of page.items) {
        if (s.end <= since) return found.reverse();
        found.push(s);
      }
      if (page.next === null) return found.reverse();
      after = page.next;
    }
  }

  /** Units per value of a dimension over a span, with the one usage type they share (null when several). */
  private async unitsBy(groupId: string, dimension: UsageDimension, span: Span): Promise<Map<string, { units: number; sole: string | null }>> {
    const sums = await this.store.sumRollups({ groupId, dimension, segments: decompose(span) });
    const totals = new Map<string, { units: number; sole: string | null }>();
    for (const row of sums.flat()) {
      const t = totals.get(row.value);
      if (t === undefined) totals.set(row.value, { units: row.count, sole: row.usageType });
      else totals.set(row.value, { units: t.units + row.count, sole: foldSole(t.sole, row.usageType) });
    }
    for (const [value, t] of totals) if (t.units === 0) totals.delete(value);
    return totals;
  }
}

/** One usage type's line: its units priced by the plan, rounded once to the minor unit. */
export function usageLine(pricing: Pricing, usageType: string, units: number, digits: number): UsageLine {
  const schedule = scheduleFor(pricing, usageType);
  const priced = charge(schedule, units);
  const amount = minorToNumber(toMinor(priced.nanos, digits));
  return {
    usage_type: usageType, units, pricing: schedule.kind,
    unit_price: schedule.kind === 'flat' ? schedule.unitPrice : null,
    tiers: priced.tiers.map((t) => ({
      first_unit: t.firstUnit, up_to: t.upTo, units: t.units, unit_price: t.unitPrice, subtotal: formatScaled(t.nanos, PRICE_DECIMALS, digits),
    })),
    amount, amount_decimal: formatMinor(amount, digits),
  };
}
