import type { Static } from 'typebox';
import type { AppLimitInput, CreditsInput, CreditsSchema, LimitInput, LimitSchema } from '../contract/limits.js';
import type { CreditsConfig } from '../domain/credits.js';
import type { LimitScope, LimitSpec } from '../domain/limits.js';

/** Named limits and credits between the API's shape (src/contract/limits.ts) and the model's. */

export type WireLimit = Static<typeof LimitSchema>;
export type WireLimitInput = Static<typeof LimitInput> | Static<typeof AppLimitInput>;
export type WireCredits = Static<typeof CreditsSchema>;
export type WireCreditsInput = Static<typeof CreditsInput>;

export function limitsToWire(limits: readonly LimitSpec[]): WireLimit[] {
  return limits.map((l) => ({ name: l.name, usage_types: l.usageTypes, window: l.window, units: l.units, scope: l.scope }));
}

/** The model's limits from a request's; a limit without a scope takes the owner's default (`group` on plans and groups, `app` on apps). */
export function limitsFromWire(limits: readonly WireLimitInput[], defaultScope: LimitScope): LimitSpec[] {
  return limits.map((l) => ({ name: l.name, usageTypes: l.usage_types ?? null, window: l.window, units: l.units, scope: l.scope ?? defaultScope }));
}

export function creditsToWire(credits: CreditsConfig | null): WireCredits | null {
  if (credits === null) return null;
  const grant = credits.grantEveryPeriod;
  return { per_unit: { ...credits.perUnit }, grant_every_period: grant === null ? null : { amount: grant.amount, rollover: grant.rollover } };
}

/** The model's credits from a request's; a recurring grant's rollover defaults to `none`. */
export function creditsFromWire(credits: WireCreditsInput | null): CreditsConfig | null {
  if (credits === null) return null;
  const grant = credits.grant_every_period ?? null;
  return { perUnit: { ...credits.per_unit }, grantEveryPeriod: grant === null ? null : { amount: grant.amount, rollover: grant.rollover ?? 'none' } };
}
