import type { Static } from 'typebox';
import type { UsagePriceSchema } from '../contract/plans.js';
import type { Plan, PriceTier, UsagePrice } from '../domain/types.js';
import { parsePrice } from './money.js';

/** What a plan charges, the part of it a statement keeps. */
export type Pricing = Pick<Plan, 'currency' | 'pricePerCall' | 'prices'>;

/** How one usage type is priced: the same price for every unit, graduated tiers, or not at all. */
export type Schedule =
  | { kind: 'flat'; unitPrice: string }
  | { kind: 'graduated'; tiers: readonly PriceTier[] }
  | { kind: 'none' };

/** The usage type's own price in the plan, else `price_per_call` as the price of every other type. */
export function scheduleFor(pricing: Pricing, usageType: string): Schedule {
  const own = pricing.prices.find((p) => p.usageType === usageType);
  if (own?.tiers) return { kind: 'graduated', tiers: own.tiers };
  if (own?.unitPrice) return { kind: 'flat', unitPrice: own.unitPrice };
  return pricing.pricePerCall === null ? { kind: 'none' } : { kind: 'flat', unitPrice: pricing.pricePerCall };
}

/** The units of one tier that a period's total fell into, and their exact price. */
export interface TierCharge {
  /** The tier's first unit, counted from 1 over the period. */
  firstUnit: number;
  /** Its last unit; null for the open-ended last tier. */
  upTo: number | null;
  units: number;
  unitPrice: string;
  /** units × unitPrice, exact, in nanos. */
  nanos: bigint;
}

/**
 * The exact price of `units` units under a schedule. Graduated: each tier
 * prices the units that fall within its bounds (the first 1,000,000 at the
 * first tier's price, the rest at the next), so a tier's price never
 * reaches back to the units below it.
 */
export function charge(schedule: Schedule, units: number): { nanos: bigint; tiers: TierCharge[] } {
  if (schedule.kind === 'none') return { nanos: 0n, tiers: [] };
  if (schedule.kind === 'flat') return { nanos: BigInt(units) * parsePrice(schedule.unitPrice), tiers: [] };
  const tiers: TierCharge[] = [];
  let below = 0;
  for (const tier of schedule.tiers) {
    const inTier = Math.max(0, Math.min(units, tier.upTo ?? Infinity) - below);
    tiers.push({ firstUnit: below + 1, upTo: tier.upTo, units: inTier, unitPrice: tier.unitPrice, nanos: BigInt(inTier) * parsePrice(tier.unitPrice) });
    if (tier.upTo === null) break;
    below = tier.upTo;
  }
  return { nanos: tiers.reduce((sum, t) => sum + t.nanos, 0n), tiers };
}

/** At most this many tiers per price (and MAX_PRICES prices per plan, src/contract/plans.ts). */
export const MAX_TIERS = 20;

/**
 * What is wrong with a plan's prices, in a sentence naming the field, or
 * null when they are sound: one price per usage type, either a `unit_price`
 * or `tiers`, tiers with ascending `up_to` bounds and the last one open-ended.
 * (Each price's form, a non-negative decimal of at most 9 decimals, is the
 * schema's to check.)
 */
export function pricesProblem(prices: readonly UsagePrice[]): string | null {
  const seen = new Set<string>();
  for (const [i, price] of prices.entries()) {
    const at = (field = '') => `body field "prices.${i}${field}"`;
    if (seen.has(price.usageType)) return `${at()}: usage type "${price.usageType}" is priced twice.`;
    seen.add(price.usageType);
    if ((price.unitPrice === null) === (price.tiers === null)) return `${at()} must have either "unit_price" (a flat price) or "tiers" (graduated), not both or neither.`;
    if (price.tiers === null) continue;
    let below = 0;
    for (const [j, tier] of price.tiers.entries()) {
      const last = j === price.tiers.length - 1;
      if (last && tier.upTo !== null) return `${at(`.tiers.${j}.up_to`)} must be null: the last tier is open-ended.`;
      if (!last && tier.upTo === null) return `${at(`.tiers.${j}.up_to`)} must be a number: only the last tier is open-ended.`;
      if (tier.upTo !== null && tier.upTo <= below) return `${at(`.tiers.${j}.up_to`)} must be greater than ${below}: tiers ascend.`;
      below = tier.upTo ?? below;
    }
  }
  return null;
}

/** A price as the API writes it (src/contract/plans.ts). */
export type WirePrice = Static<typeof UsagePriceSchema>;

export function pricesToWire(prices: readonly UsagePrice[]): WirePrice[] {
  return prices.map((p) => (p.tiers === null
    ? { usage_type: p.usageType, unit_price: p.unitPrice! }
    : { usage_type: p.usageType, tiers: p.tiers.map((t) => ({ up_to: t.upTo, unit_price: t.unitPrice })) }));
}

export function pricesFromWire(prices: readonly WirePrice[]): UsagePrice[] {
  return prices.map((p) => ({
    usageType: p.usage_type, unitPrice: p.unit_price ?? null,
    tiers: p.tiers === undefined ? null : p.tiers.map((t) => ({ upTo: t.up_to, unitPrice: t.unit_price })),
  }));
}
