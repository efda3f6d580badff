/**
 * Prepaid credits: a group's balance is made of grants, burnt down by usage
 * at a price in credits per unit of each usage type. How a charge is spread
 * over the grants is decided in one place (`allocate`, below), used by every
 * limiter.
 */

/** What a plan says about credits; a plan without it uses none. */
export interface CreditsConfig {
  /** Credits per unit of each usage type; `*`: every type not listed. A type with no price (and no `*`) costs nothing. */
  perUnit: Record<string, number>;
  /** A grant issued at the start of each billing period. */
  grantEveryPeriod: PeriodGrant | null;
}

export interface PeriodGrant {
  amount: number;
  /** What is left of the last period's grant: `none` expires at the period's end, `all` never expires, a number keeps at most that much. */
  rollover: 'none' | 'all' | number;
}

export interface CreditGrant {
  id: string;
  groupId: string;
  amount: number;
  /** Credits of this grant consumed so far (never above `amount`). */
  used: number;
  /** Higher first. */
  priority: number;
  expiresAt: number | null;
  note: string | null;
  idempotencyKey: string | null;
  /** `manual`: granted through the API; `period`: the plan's recurring grant. */
  source: 'manual' | 'period';
  createdAt: number;
  voidedAt: number | null;
}

/**
 * One movement of a charge, as the durable writer applies it with the
 * event that caused it: credits taken from a grant, or the group's debt
 * changed (positive: more debt; negative: debt repaid).
 */
export type CreditMovement =
  | { kind: 'grant'; grantId: string; amount: number }
  | { kind: 'debt'; groupId: string; amount: number };
