/**
 * Between the SDK's camelCase and the API's snake_case. Answers are converted
 * deeply: Tollgate's answers hold no objects supplied by users. Requests are
 * converted one level deep only, so that `requestArgs` reaches the server
 * exactly as given (its hash depends on its keys).
 */

const toCamel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const toSnake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A Tollgate answer with camelCase keys at every level. */
export function camelize<T>(value: unknown): T {
  if (Array.isArray(value)) return value.map((v) => camelize(v)) as T;
  if (value === null || typeof value !== 'object') return value as T;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [toCamel(k), camelize(v)])) as T;
}

/**
 * A request body from camelCase fields: names in snake_case, undefined
 * fields left out, dates as ISO 8601 strings, values otherwise unchanged.
 */
export function snakeFields(fields: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) out[toSnake(name)] = value instanceof Date ? value.toISOString() : value;
  }
  return out;
}
