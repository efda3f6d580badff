import type { App, Group, Key, Plan, ServiceToken } from '../domain/types.js';

/**
 * Catalogue rows, as every store's tables name their columns (snake_case),
 * turned into the model. Numbers may arrive as numbers (SQLite) or strings.
 */
/** The fields of a patch that are set (undefined: leave as is; null is a value). */
export function defined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type Row = Record<string, unknown> | null | undefined;
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function mapPlan(row: unknown): Plan | null {
  const r = row as Row;
  if (!r) return null;
  return {
    id: r.id as string, monthlyQuota: num(r.monthly_quota)!, rateLimitPerMinute: num(r.rate_limit_per_minute)!,
    pricePerCall: (r.price_per_call as string | null) ?? null, timeZone: r.time_zone as string,
    createdAt: num(r.created_at)!, updatedAt: num(r.updated_at)!,
  };
}

export function mapGroup(row: unknown): Group | null {
  const r = row as Row;
  if (!r) return null;
  return { id: r.id as string, name: r.name as string, planId: r.plan_id as string, createdAt: num(r.created_at)!, updatedAt: num(r.updated_at)! };
}

export function mapApp(row: unknown): App | null {
  const r = row as Row;
  if (!r) return null;
  return {
    id: r.id as string, groupId: r.group_id as string, name: r.name as string,
    monthlyQuota: num(r.monthly_quota), rateLimitPerMinute: num(r.rate_limit_per_minute), disabledAt: num(r.disabled_at),
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
