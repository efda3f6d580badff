import type { Span } from './periods.js';

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

/** A group's credits as a limiter loads them. */
export interface CreditState {
  /** Every grant not voided (expired ones included), with what each has used. */
  grants: CreditGrant[];
  /** Credits consumed beyond the grants, repaid first from the next charge. */
  debt: number;
}

/** What a call of one kind asks of its group's credits. */
export interface CallCredits {
  /** Credits per unit of the call's kind (0: free, but the balance is still reported). */
  perUnit: number;
  /** The plan's recurring grant, issued when the group's credits are first loaded in a period. */
  periodGrant: PeriodGrant | null;
}

/** What is left of a grant. */
export const remainingOf = (grant: Pick<CreditGrant, 'amount' | 'used'>): number => Math.max(0, grant.amount - grant.used);

/** The grants that can be spent at `now`: not voided, not expired (a grant expires at its `expiresAt`). */
export function liveGrants<G extends Pick<CreditGrant, 'voidedAt' | 'expiresAt'>>(grants: readonly G[], now: number): G[] {
  return grants.filter((g) => g.voidedAt === null && (g.expiresAt === null || g.expiresAt > now));
}

/**
 * The order grants are spent in, as a comparator: the highest priority
 * first, then the one that expires first (one without expiry last), then
 * the oldest, then by id (bytewise) so that every limiter agrees.
 *
 * @example
 * const order = liveGrants(grants, now).sort(burnDownOrder);
 */
export function burnDownOrder(a: CreditGrant, b: CreditGrant): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.expiresAt !== b.expiresAt) {
    if (a.expiresAt === null) return 1;
    if (b.expiresAt === null) return -1;
    return a.expiresAt - b.expiresAt;
  }
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A group's balance at `now`: what remains of its live grants, minus its debt (negative when the debt is larger). */
export function balanceOf(grants: readonly CreditGrant[], debt: number, now: number): number {
  return liveGrants(grants, now).reduce((sum, g) => sum + remainingOf(g), 0) - debt;
}

/** The outcome of spreading a charge over a group's grants. */
export interface Allocation {
  /** False only for a charge the balance cannot cover that may not overdraw: then nothing moves. */
  allowed: boolean;
  /** What the durable writer applies with the event: credits taken from grants, and the change of the debt. */
  movements: CreditMovement[];
  /** The balance once the movements are applied (unchanged when refused). */
  balanceAfter: number;
}

export interface AllocateOptions {
  /** The group whose debt the debt movement changes. */
  groupId: string;
  /** Ingested events (already served): what the grants cannot cover becomes debt instead of a refusal. */
  mayOverdraw: boolean;
}

/**
 * Spreads `charge` credits over the live grants in burn-down order. Each
 * charge takes the group's `debt` plus its own cost, so debt is repaid
 * first. When the grants cannot cover that, an event that may overdraw
 * takes all they hold and leaves the rest as debt; a check is refused and
 * consumes nothing. A charge of 0 moves nothing and is never refused.
 *
 * @example
 * // 3 credits left of one grant, a debt of 1, a call that costs 2: the debt is repaid, then the call paid.
 * allocate([grant], 1, 2, now, { groupId, mayOverdraw: false });
 * // → { allowed: true, movements: [{ kind: 'grant', grantId, amount: 3 }, { kind: 'debt', groupId, amount: -1 }], balanceAfter: 0 }
 */
export function allocate(grants: readonly CreditGrant[], debt: number, charge: number, now: number, options: AllocateOptions): Allocation {
  const live = liveGrants(grants, now).sort(burnDownOrder);
  const available = live.reduce((sum, g) => sum + remainingOf(g), 0);
  if (charge <= 0) return { allowed: true, movements: [], balanceAfter: available - debt };
  const need = debt + charge;
  if (need > available && !options.mayOverdraw) return { allowed: false, movements: [], balanceAfter: available - debt };

  const movements: CreditMovement[] = [];
  let left = need;
  for (const grant of live) {
    if (left <= 0) break;
    const take = Math.min(remainingOf(grant), left);
    if (take > 0) movements.push({ kind: 'grant', grantId: grant.id, amount: take });
    left -= take;
  }
  // `left` is what the grants could not cover: the new debt (0 when they covered it all).
  const debtAfter = Math.max(0, left);
  if (debtAfter !== debt) movements.push({ kind: 'debt', groupId: options.groupId, amount: debtAfter - debt });
  return { allowed: true, movements, balanceAfter: available - need };
}

/**
 * What `units` of `usageType` cost in credits: its price, else the price of
 * `*`, else nothing.
 *
 * @example
 * creditCost({ image: 1, pdf: 5, '*': 1 }, 'pdf', 3); // 15
 */
export function creditCost(perUnit: Readonly<Record<string, number>>, usageType: string, units: number): number {
  return (Object.hasOwn(perUnit, usageType) ? perUnit[usageType]! : Object.hasOwn(perUnit, '*') ? perUnit['*']! : 0) * units;
}

/** A grant to be written: everything but what the store decides (id, use, creation, voiding). */
export interface GrantToIssue {
  amount: number;
  priority: number;
  expiresAt: number | null;
  note: string | null;
  idempotencyKey: string | null;
  source: CreditGrant['source'];
  /** The billing period a recurring grant belongs to; null for a manual one. */
  periodStart: number | null;
}

/** The idempotency keys of a period's recurring grant and of what it carried over (their source, `period`, keeps them apart from callers' keys). */
export const periodGrantKey = (periodStart: number) => `period:${periodStart}`;
const ROLLOVER_PREFIX = 'rollover:';
export const rolloverGrantKey = (periodStart: number) => `${ROLLOVER_PREFIX}${periodStart}`;

/** Whether a grant only carries over what was left of the last period's: no new credits. */
export const isCarriedOver = (grant: Pick<CreditGrant, 'source' | 'idempotencyKey'>): boolean =>
  grant.source === 'period' && grant.idempotencyKey !== null && grant.idempotencyKey.startsWith(ROLLOVER_PREFIX);

/**
 * The credits granted in `span`: the grants created in it and not voided.
 * What a period carried over from the last one is left out, since it was
 * granted (and counted) in the period it came from.
 */
export function grantedIn(grants: readonly CreditGrant[], span: Span): number {
  return grants
    .filter((g) => g.voidedAt === null && g.createdAt >= span.start && g.createdAt < span.end && !isCarriedOver(g))
    .reduce((sum, g) => sum + g.amount, 0);
}

/** When credits next stop counting: the earliest expiry among the live grants with something left; null when none of them expires. */
export function nextExpiry(grants: readonly CreditGrant[], now: number): number | null {
  let next: number | null = null;
  for (const g of liveGrants(grants, now)) {
    if (g.expiresAt !== null && remainingOf(g) > 0 && (next === null || g.expiresAt < next)) next = g.expiresAt;
  }
  return next;
}

/** What units of each usage type cost in credits, by `creditCost`: the price the engine charges them at. */
export interface KindCredits {
  usageType: string;
  units: number;
  credits: number;
}

/**
 * Credits per usage type for the units given, in the order given, with
 * their total; a kind without a price is listed at 0 credits.
 *
 * @example
 * creditsByKind({ image: 1, pdf: 5 }, [['image', 3], ['pdf', 2]]); // { kinds: [..., { usageType: 'pdf', units: 2, credits: 10 }], total: 13 }
 */
export function creditsByKind(perUnit: Readonly<Record<string, number>>, units: Iterable<readonly [string, number]>): { kinds: KindCredits[]; total: number } {
  const kinds = [...units].map(([usageType, n]) => ({ usageType, units: n, credits: creditCost(perUnit, usageType, n) }));
  return { kinds, total: kinds.reduce((sum, k) => sum + k.credits, 0) };
}

/** How a period's grant treats the last period's: whether to cut it off at `period.start`, and the grants to write (the carried-over one first, so it is spent first). */
export interface PeriodIssue {
  /** Expire the last period's grant at the new period's start (a capped rollover). */
  expirePrevious: boolean;
  grants: GrantToIssue[];
}

/**
 * The grants the plan's recurring grant issues at the start of `period`.
 * `previous` is the last period's recurring grant (not voided), if any.
 * Rollover `none`: the grant expires at the period's end, and nothing is
 * carried. `all`: it never expires, so nothing needs carrying. A number M:
 * it expires at the period's end too, and what is left of the last
 * period's grant (cut off at this period's start, if it was still live) is
 * carried, at most M, as a separate grant that lasts until this period ends.
 */
export function periodGrantsToIssue(config: PeriodGrant, period: Span, previous: CreditGrant | null): PeriodIssue {
  const main: GrantToIssue = {
    amount: config.amount, priority: 0, expiresAt: config.rollover === 'all' ? null : period.end, note: null,
    idempotencyKey: periodGrantKey(period.start), source: 'period', periodStart: period.start,
  };
  if (typeof config.rollover !== 'number' || previous === null) return { expirePrevious: false, grants: [main] };
  // A grant that ended before this period began (periods without a grant between) has nothing left to carry.
  const liveAtStart = previous.expiresAt === null || previous.expiresAt >= period.start;
  const carried = liveAtStart ? Math.min(config.rollover, remainingOf(previous)) : 0;
  const expirePrevious = previous.expiresAt === null || previous.expiresAt > period.start;
  if (carried <= 0) return { expirePrevious, grants: [main] };
  const rollover: GrantToIssue = {
    amount: carried, priority: 0, expiresAt: period.end, note: 'carried over from the last period',
    idempotencyKey: rolloverGrantKey(period.start), source: 'period', periodStart: period.start,
  };
  return { expirePrevious, grants: [rollover, main] };
}

/**
 * The part of a charge's movements that gives back `amount` credits: taken
 * from the grants it drew on last, first. A reservation settled below its
 * estimate gives back this much, and keeps the rest (with any debt it
 * repaid) for the durable writer.
 */
export function portionOf(movements: readonly CreditMovement[], amount: number): { back: CreditMovement[]; kept: CreditMovement[] } {
  const back: CreditMovement[] = [];
  const kept = movements.map((m) => ({ ...m }));
  let left = amount;
  for (let i = kept.length - 1; i >= 0 && left > 0; i -= 1) {
    const m = kept[i]!;
    if (m.kind !== 'grant') continue;
    const take = Math.min(m.amount, left);
    back.push({ ...m, amount: take });
    m.amount -= take;
    left -= take;
  }
  return { back, kept: kept.filter((m) => m.kind === 'debt' || m.amount > 0) };
}
