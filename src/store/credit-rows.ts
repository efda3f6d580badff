import type { CreditGrant, CreditMovement, GrantToIssue } from '../domain/credits.js';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import type { PendingWrite } from '../engine/pending-write.js';
import type { Row } from './catalog-rows.js';
import type { NewCreditGrant } from './store.js';

/**
 * The credit tables, the same in both stores (SQLite reads BIGINT as its
 * INTEGER): each store's migrations append this as one step.
 *
 * `credit_grants.used` and `credit_debts.debt` change only in the durable
 * writer's transactions, with the events that consumed the credits (in
 * PostgreSQL by way of credit_uses, folded into them later); grants
 * themselves are written by the admin API. Idempotency keys are unique per
 * group and source, so a caller's key never meets the keys of the plan's
 * recurring grants (`period:<start>`, `rollover:<start>`).
 */
export const CREDIT_TABLES = `
  CREATE TABLE credit_grants (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES customer_groups(id),
    amount BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL,
    expires_at BIGINT,
    note TEXT,
    idempotency_key TEXT,
    source TEXT NOT NULL,
    period_start BIGINT,
    created_at BIGINT NOT NULL,
    voided_at BIGINT
  );
  CREATE INDEX credit_grants_by_group ON credit_grants(group_id, id);
  CREATE UNIQUE INDEX credit_grants_by_key ON credit_grants(group_id, source, idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX credit_grants_by_period ON credit_grants(group_id, period_start) WHERE source = 'period';
  -- Credits consumed beyond the grants (ingested events are never refused); one row per group that ever had any.
  CREATE TABLE credit_debts (
    group_id TEXT PRIMARY KEY REFERENCES customer_groups(id),
    debt BIGINT NOT NULL
  );
`;

/** The columns of a grant row, in the order of the INSERT both stores use. */
export const GRANT_COLUMNS = 'id, group_id, amount, used, priority, expires_at, note, idempotency_key, source, period_start, created_at, voided_at';

/** A grant's row values, in the order of GRANT_COLUMNS. */
export function grantValues(id: string, groupId: string, g: GrantToIssue, now: number): unknown[] {
  return [id, groupId, g.amount, 0, g.priority, g.expiresAt, g.note, g.idempotencyKey, g.source, g.periodStart, now, null];
}

/** A grant made through the admin API, as written. */
export function manualGrant(g: NewCreditGrant): GrantToIssue {
  return { ...g, source: 'manual', periodStart: null };
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function mapGrant(row: unknown): CreditGrant | null {
  const r = row as Row;
  if (!r) return null;
  return {
    id: r.id as string, groupId: r.group_id as string, amount: num(r.amount)!, used: num(r.used)!, priority: num(r.priority)!,
    expiresAt: num(r.expires_at), note: (r.note as string | null) ?? null, idempotencyKey: (r.idempotency_key as string | null) ?? null,
    source: r.source as CreditGrant['source'], createdAt: num(r.created_at)!, voidedAt: num(r.voided_at),
  };
}

/**
 * The answer to a grant whose idempotency key was used before: the first
 * grant when the two are the same grant, else a ConflictError.
 */
export function replayedGrant(existing: CreditGrant, asked: NewCreditGrant): { grant: CreditGrant; created: false } {
  const same = existing.amount === asked.amount && existing.priority === asked.priority && existing.expiresAt === asked.expiresAt
    && existing.note === asked.note;
  if (!same) {
    throw new ConflictError(`The idempotency key "${asked.idempotencyKey}" was used for another grant to group "${existing.groupId}" (${existing.id}).`);
  }
  return { grant: existing, created: false };
}

export const creditRefusals = {
  noGroup: (groupId: string) => new NotFoundError(`No group with id "${groupId}".`),
  noGrant: (groupId: string, grantId: string) => new NotFoundError(`No credit grant with id "${grantId}" in group "${groupId}".`),
};

/** The listeners of `CreditStore.onChange`, told after each commit. */
export class CreditListeners {
  private readonly listeners: Array<(groupId: string) => void | Promise<void>> = [];

  add(listener: (groupId: string) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Settles once every listener has: a grant or a void answers only when the limiters know of it. */
  async changed(groupId: string): Promise<void> {
    await Promise.all(this.listeners.map(async (listener) => listener(groupId)));
  }
}

/** A batch's credit movements summed per grant and per group, each list sorted by id (one order for every batch's writes). */
export interface FoldedMovements {
  grants: Array<[grantId: string, amount: number]>;
  debts: Array<[groupId: string, amount: number]>;
}

/**
 * Sums the movements of the items that were written (`kept`: not
 * duplicates), one change per grant and per group for the whole batch.
 */
export function foldMovements(items: readonly PendingWrite[], kept: (index: number) => boolean): FoldedMovements {
  const grants = new Map<string, number>();
  const debts = new Map<string, number>();
  items.forEach((item, i) => {
    if (item.credits === undefined || !kept(i)) return;
    for (const m of item.credits) add(m, grants, debts);
  });
  const sorted = (map: Map<string, number>) => [...map].filter(([, amount]) => amount !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { grants: sorted(grants), debts: sorted(debts) };
}

function add(m: CreditMovement, grants: Map<string, number>, debts: Map<string, number>): void {
  if (m.kind === 'grant') grants.set(m.grantId, (grants.get(m.grantId) ?? 0) + m.amount);
  else debts.set(m.groupId, (debts.get(m.groupId) ?? 0) + m.amount);
}
