import type { CreditsConfig } from '../domain/credits.js';
import type { LimitOverrides, LimitSpec } from '../domain/limits.js';
import type { App, Group, Key, Plan, ServiceToken, UsagePrice } from '../domain/types.js';
import type { NewApp, NewGroup, NewPlan, StoredStatement } from './store.js';

/**
 * Catalogue rows, as every store's tables name their columns (snake_case),
 * turned into the model. Numbers may arrive as numbers (SQLite) or strings.
 */
/**
 * The columns of named limits and credits, JSON text in both stores (the
 * same migration in each): a row written before them reads back with no
 * limits, no overrides and no credits.
 */
export const LIMIT_COLUMNS = `
  ALTER TABLE plans ADD COLUMN limits TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE plans ADD COLUMN credits TEXT;
  ALTER TABLE customer_groups ADD COLUMN limit_overrides TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE customer_groups ADD COLUMN limits TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE apps ADD COLUMN limit_overrides TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE apps ADD COLUMN limits TEXT NOT NULL DEFAULT '[]';
`;

/** The fields of a patch that are set (undefined: leave as is; null is a value). */
export function defined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type Row = Record<string, unknown> | null | undefined;
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
/** A JSON text column; absent (a row read before its migration) or NULL: the default. */
const json = <T>(v: unknown, fallback: T): T => (typeof v === 'string' ? JSON.parse(v) as T : fallback);

export function mapPlan(row: unknown): Plan | null {
  const r = row as Row;
  if (!r) return null;
  return {
    id: r.id as string, monthlyQuota: num(r.monthly_quota)!, rateLimitPerMinute: num(r.rate_limit_per_minute)!,
    pricePerCall: (r.price_per_call as string | null) ?? null, timeZone: r.time_zone as string,
    currency: (r.currency as string | undefined) ?? 'USD', prices: json<UsagePrice[]>(r.prices, []),
    limits: json<LimitSpec[]>(r.limits, []), credits: json<CreditsConfig | null>(r.credits, null),
    createdAt: num(r.created_at)!, updatedAt: num(r.updated_at)!,
  };
}

/** A new plan with its defaults filled in (prices, limits, credits), as every store writes it. */
export function withPlanDefaults(plan: NewPlan): Omit<Plan, 'createdAt' | 'updatedAt'> {
  return { ...plan, currency: plan.currency ?? 'USD', prices: plan.prices ?? [], limits: plan.limits ?? [], credits: plan.credits ?? null };
}

/** A new group or app with its limit defaults filled in: no overrides, no limits of its own. */
export function withLimitDefaults<T extends NewGroup | NewApp>(item: T): T & { limitOverrides: LimitOverrides; limits: LimitSpec[] } {
  return { ...item, limitOverrides: item.limitOverrides ?? {}, limits: item.limits ?? [] };
}

/** The JSON text columns of a plan (`limits`, `credits`) or of a group or app (`limit_overrides`, `limits`), as every store writes them. */
export function limitColumns(item: { limits: LimitSpec[]; limitOverrides?: LimitOverrides; credits?: CreditsConfig | null }) {
  return {
    limitsJson: JSON.stringify(item.limits),
    limitOverridesJson: JSON.stringify(item.limitOverrides ?? {}),
    creditsJson: item.credits === undefined || item.credits === null ? null : JSON.stringify(item.credits),
  };
}

export function mapGroup(row: unknown): Group | null {
  const r = row as Row;
  if (!r) return null;
  return {
    id: r.id as string, name: r.name as string, planId: r.plan_id as string,
    limitOverrides: json<LimitOverrides>(r.limit_overrides, {}), limits: json<LimitSpec[]>(r.limits, []),
    createdAt: num(r.created_at)!, updatedAt: num(r.updated_at)!,
  };
}

export function mapApp(row: unknown): App | null {
  const r = row as Row;
  if (!r) return null;
  return {
    id: r.id as string, groupId: r.group_id as string, name: r.name as string,
    monthlyQuota: num(r.monthly_quota), rateLimitPerMinute: num(r.rate_limit_per_minute), disabledAt: num(r.disabled_at),
    limitOverrides: json<LimitOverrides>(r.limit_overrides, {}), limits: json<LimitSpec[]>(r.limits, []),
    createdAt: num(r.created_at)!, updatedAt: num(r.updated_at)!,
  };
}

export function mapKey(row: unknown): Key | null {
  const r = row as Row;
  if (!r) return null;
  return {
    id: r.id as string, appId: r.app_id as string, groupId: r.group_id as string, name: r.name as string, hint: r.hint as string,
    createdAt: num(r.created_at)!, expiresAt: num(r.expires_at), revokedAt: num(r.revoked_at),
  };
}

export function mapToken(row: unknown): ServiceToken | null {
  const r = row as Row;
  if (!r) return null;
  return { id: r.id as string, name: r.name as string, hint: r.hint as string, createdAt: num(r.created_at)!, revokedAt: num(r.revoked_at) };
}

export function mapStatement(row: unknown): StoredStatement | null {
  const r = row as Row;
  if (!r) return null;
  return {
    groupId: r.group_id as string, period: r.period as string, start: num(r.period_start)!, end: num(r.period_end)!,
    closedAt: num(r.closed_at)!, currency: r.currency as string, total: num(r.total)!, document: r.document as string,
  };
}

/** Statements are listed newest first; with no `after`, from a bound above every "YYYY-MM". */
export const LATEST_PERIOD_BOUND = '~';

/** A page of statements from up to `limit + 1` rows read newest first; `next` is the last period shown. */
export function statementPage(rows: readonly unknown[], limit: number): { items: StoredStatement[]; next: string | null } {
  const items = rows.slice(0, limit).map((r) => mapStatement(r)!);
  return { items, next: rows.length > limit ? items[items.length - 1]!.period : null };
}
