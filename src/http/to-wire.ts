import type { Static } from 'typebox';
import { pricesToWire } from '../billing/pricing.js';
import type { PageQuery } from '../contract/common.js';
import type { AppSchema, GroupSchema } from '../contract/customers.js';
import type { KeySchema, ServiceTokenSchema } from '../contract/keys.js';
import type { PlanSchema } from '../contract/plans.js';
import type { App, Group, Key, Plan, ServiceToken } from '../domain/types.js';
import { creditsToWire, limitsToWire } from '../metering/limits-wire.js';
import type { PageRequest } from '../store/store.js';

/** The catalogue's entities as the API sends them (src/contract/), and the page request of a list. */

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function planJson(p: Plan): Static<typeof PlanSchema> {
  return {
    id: p.id, monthly_quota: p.monthlyQuota, rate_limit_per_minute: p.rateLimitPerMinute,
    price_per_call: p.pricePerCall, currency: p.currency, prices: pricesToWire(p.prices),
    time_zone: p.timeZone, limits: limitsToWire(p.limits), credits: creditsToWire(p.credits), created_at: iso(p.createdAt), updated_at: iso(p.updatedAt),
  };
}

export function groupJson(g: Group): Static<typeof GroupSchema> {
  return {
    id: g.id, name: g.name, plan_id: g.planId, limit_overrides: { ...g.limitOverrides }, limits: limitsToWire(g.limits),
    created_at: iso(g.createdAt), updated_at: iso(g.updatedAt),
  };
}

export function appJson(a: App): Static<typeof AppSchema> {
  return {
    app_id: a.id, group_id: a.groupId, name: a.name, monthly_quota: a.monthlyQuota,
    rate_limit_per_minute: a.rateLimitPerMinute, disabled_at: isoOrNull(a.disabledAt),
    limit_overrides: { ...a.limitOverrides }, limits: limitsToWire(a.limits), created_at: iso(a.createdAt), updated_at: iso(a.updatedAt),
  };
}

export function keyJson(k: Key): Static<typeof KeySchema> {
  return {
    key_id: k.id, app_id: k.appId, group_id: k.groupId, name: k.name, hint: k.hint,
    created_at: iso(k.createdAt), expires_at: isoOrNull(k.expiresAt), revoked_at: isoOrNull(k.revokedAt),
  };
}

export function serviceTokenJson(t: ServiceToken): Static<typeof ServiceTokenSchema> {
  return { token_id: t.id, name: t.name, hint: t.hint, created_at: iso(t.createdAt), revoked_at: isoOrNull(t.revokedAt) };
}

/** The store's page request from the `limit` and `after` query parameters. */
export function pageRequest(query: PageQuery): PageRequest {
  return { limit: query.limit === undefined ? 100 : Number(query.limit), ...(query.after ? { after: query.after } : {}) };
}
