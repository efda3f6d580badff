/**
 * Between the SDK's camelCase and the API's snake_case, by one rule both
 * ways: a wire name's `_x` is the SDK's `X` (`monthly_quota`, `monthlyQuota`).
 * The same rule at the type level (`Camel`) turns the contract's schemas
 * (src/contract/) into the SDK's types, so the two cannot drift apart.
 *
 * The values of a few fields are the user's own data, not Tollgate's: they
 * pass verbatim, their keys untouched (the hash of `request_args` depends on
 * its keys, exactly as given; the keys of `limit_overrides` are limit names
 * and those of `per_unit` usage types).
 */

/** Wire fields whose values are user data, passed verbatim both ways. */
export const VERBATIM_FIELDS = ['request_args', 'data', 'limit_overrides', 'per_unit'] as const;
type VerbatimField = (typeof VERBATIM_FIELDS)[number];
const VERBATIM: ReadonlySet<string> = new Set(VERBATIM_FIELDS);

/** A wire name in camelCase: `rate_limit_per_minute` is `rateLimitPerMinute`. */
export type CamelName<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelName<Tail>>}` : S;

/** A wire shape with camelCase names at every level (user data aside), values and optionality unchanged. */
export type Camel<T> = T extends readonly (infer E)[]
  ? Camel<E>[]
  : T extends object
    ? { [K in keyof T as K extends string ? CamelName<K> : K]: K extends VerbatimField ? T[K] : Camel<T[K]> }
    : T;

const toCamel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const toSnake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A Tollgate answer with camelCase names at every level, user data aside. */
export function fromWire<W>(value: W): Camel<W> {
  if (Array.isArray(value)) return value.map((v) => fromWire(v)) as Camel<W>;
  if (value === null || typeof value !== 'object') return value as Camel<W>;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [toCamel(k), VERBATIM.has(k) ? v : fromWire(v)])) as Camel<W>;
}

/**
 * A request body (or an SDK value as the API writes it) from camelCase
 * fields: names in snake_case at every level, undefined fields left out,
 * dates as ISO 8601 strings, user data verbatim.
 */
export function toWire(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => toWire(v));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    if (field === undefined) continue;
    const wireName = toSnake(name);
    out[wireName] = VERBATIM.has(wireName) ? field : toWire(field);
  }
  return out;
}
