import { Type, type Static, type TSchema } from 'typebox';
import type { App, Group, Key, Plan, ServiceToken } from '../domain/types.js';
import { ERROR_CATALOGUE } from '../errors.js';
import type { PageRequest } from '../store/store.js';
import { pricesToWire } from '../billing/pricing.js';
import { withHeaders, type ResponseHeader } from './openapi.js';
import { DATE_OR_DATE_TIME_PATTERN, TIME_ZONE_PATTERN } from './patterns.js';

/**
 * The API's shapes, one TypeBox definition each: Fastify validates with
 * them, TypeScript types the handlers from them, and /openapi.json is
 * generated from them.
 */

export const ErrorSchema = Type.Object({
  error: Type.String({ description: 'Short machine-readable error code.', examples: ['invalid_request'] }),
  message: Type.String({ description: 'Human-readable error message.' }),
}, { $id: 'Error' });

/**
 * A route's error answers, each the Error shape (`Type.Ref` keeps the
 * document small) described by the codes it can carry; 500 is added to
 * every route, since any of them can fail. Every 429 says when to retry.
 */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries([...new Set([...statuses, 500])].sort((a, b) => a - b)
    .map((s) => [s, withHeaders(Type.Ref('Error', { description: describeStatus(s) }), s === 429 ? ['Retry-After'] : [])]));
}

/**
 * A success answer as the document shows it: the schema, what the answer is,
 * and the headers it carries besides X-Request-Id (which every answer has).
 */
export function answer<T extends object>(description: string, schema: T, headers: ResponseHeader[] = []): T {
  // A copy that keeps TypeBox's hidden marks (a spread would drop them), so that it is still a TypeBox schema.
  const described = Object.defineProperties({}, Object.getOwnPropertyDescriptors(schema)) as T & { description: string };
  described.description = description;
  return withHeaders(described, headers);
}

function describeStatus(status: number): string {
  return Object.entries(ERROR_CATALOGUE)
    .filter(([, entry]) => entry.status === status)
    .map(([code, entry]) => `\`${code}\`: ${entry.message}`)
    .join(' Or ');
}

export const IdPattern = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$';
export const Id = (description: string) => Type.String({ pattern: IdPattern, description });
/** -1 or more: -1 means unlimited. */
export const Limit = (description: string) => Type.Integer({ minimum: -1, maximum: 1e15, description });
export const Timestamp = Type.String({ format: 'date-time' });
/** A usage query's bound: a date or a date-time, with or without an offset. */
export const DateOrDateTime = (description: string) => Type.String({ maxLength: 64, pattern: DATE_OR_DATE_TIME_PATTERN, description });
/** An IANA time zone name: the pattern is its shape, the handler checks that the zone exists (src/domain/periods.ts, isValidTimeZone). */
export const TimeZoneName = (description: string) => Type.String({ maxLength: 64, pattern: TIME_ZONE_PATTERN, description });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
/** A decimal amount as the API takes it (the CLI checks its price options against it too). */
export const DECIMAL_PATTERN = '^\\d{1,12}(\\.\\d{1,9})?$';
export const Decimal = Type.String({ pattern: DECIMAL_PATTERN, description: 'A decimal amount such as "0.01".' });

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'Items per page, 1 to 1000 (default 100).' })),
  after: Type.Optional(Type.String({ maxLength: 64, description: 'Return items whose id sorts after this one (the `next` of the previous page).' })),
});
export type PageQuery = Static<typeof PageQuery>;

export const page = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` to get the next page; null on the last page.' }),
});

export const UsageType = (description: string) => Type.String({ pattern: IdPattern, description });

export const PriceTierSchema = Type.Object({
  up_to: Type.Union([Type.Integer({ minimum: 1, maximum: 1e15 }), Type.Null()], {
    description: "The tier's last unit, counted over the group's units of the usage type in the period; null for the last, open-ended tier.",
  }),
  unit_price: Decimal,
}, { additionalProperties: false });

export const UsagePriceSchema = Type.Object({
  usage_type: UsageType('The usage type this price applies to.'),
  unit_price: Type.Optional(Decimal),
  tiers: Type.Optional(Type.Array(PriceTierSchema, { minItems: 1, maxItems: 20, description: 'Graduated tiers, ascending; or give `unit_price`.' })),
}, { additionalProperties: false, description: 'A flat `unit_price`, or graduated `tiers`.' });

export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code, e.g. "USD".' });

export const PlanSchema = Type.Object({
  id: Type.String(),
  monthly_quota: Type.Integer({ description: 'Units per billing month; -1: unlimited.' }),
  rate_limit_per_minute: Type.Integer({ description: 'Units per minute (sliding window); -1: unlimited.' }),
  price_per_call: Type.Union([Type.String(), Type.Null()], { description: 'Price of a unit of every usage type that `prices` does not list; null: those are not priced.' }),
  currency: Currency,
  prices: Type.Array(UsagePriceSchema, { description: 'Prices of particular usage types: flat or graduated.' }),
  time_zone: Type.String({ description: 'IANA zone that fixes the edges of the billing month.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { $id: 'Plan' });

export const GroupSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  plan_id: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { $id: 'Group' });

export const AppSchema = Type.Object({
  app_id: Type.String(),
  group_id: Type.String(),
  name: Type.String(),
  monthly_quota: Type.Union([Type.Integer(), Type.Null()], { description: "The app's own monthly quota on top of its group's plan; null: none." }),
  rate_limit_per_minute: Type.Union([Type.Integer(), Type.Null()], { description: "The app's own per-minute limit on top of its group's plan; null: none." }),
  disabled_at: Type.Union([Timestamp, Type.Null()], { description: 'When the app was disabled (its keys refused, its events rejected); null while enabled.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { $id: 'App' });

export const KeySchema = Type.Object({
  key_id: Type.String(),
  app_id: Type.String(),
  group_id: Type.String(),
  name: Type.String(),
  hint: Type.String({ description: 'The first characters of the secret, to tell keys apart.' }),
  created_at: Timestamp,
  expires_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
}, { $id: 'Key' });

export const ServiceTokenSchema = Type.Object({
  token_id: Type.String(),
  name: Type.String(),
  hint: Type.String(),
  created_at: Timestamp,
  revoked_at: NullableTimestamp,
}, { $id: 'ServiceToken' });

export const SHARED_SCHEMAS = [ErrorSchema, PlanSchema, GroupSchema, AppSchema, KeySchema, ServiceTokenSchema];

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function planJson(p: Plan): Static<typeof PlanSchema> {
  return {
    id: p.id, monthly_quota: p.monthlyQuota, rate_limit_per_minute: p.rateLimitPerMinute,
    price_per_call: p.pricePerCall, currency: p.currency, prices: pricesToWire(p.prices),
    time_zone: p.timeZone, created_at: iso(p.createdAt), updated_at: iso(p.updatedAt),
  };
}

export function groupJson(g: Group): Static<typeof GroupSchema> {
  return { id: g.id, name: g.name, plan_id: g.planId, created_at: iso(g.createdAt), updated_at: iso(g.updatedAt) };
}

export function appJson(a: App): Static<typeof AppSchema> {
  return {
    app_id: a.id, group_id: a.groupId, name: a.name, monthly_quota: a.monthlyQuota,
    rate_limit_per_minute: a.rateLimitPerMinute, disabled_at: isoOrNull(a.disabledAt), created_at: iso(a.createdAt), updated_at: iso(a.updatedAt),
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
