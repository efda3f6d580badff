import { Type, type Static, type TSchema } from 'typebox';
import { DATE_OR_DATE_TIME_PATTERN, DECIMAL_PATTERN, ID_PATTERN, TIME_ZONE_PATTERN } from './patterns.js';

/**
 * The building blocks of the wire contract: the error shape, ids, times,
 * amounts and pages. Every answer and request of the API is a TypeBox schema
 * in src/contract/: Fastify validates with them, the handlers and the SDK
 * take their types from them, and /openapi.json is generated from them.
 */

export const ErrorSchema = Type.Object({
  error: Type.String({ description: 'Short machine-readable error code.', examples: ['invalid_request'] }),
  message: Type.String({ description: 'Human-readable error message.' }),
}, { $id: 'Error' });

export const IdPattern = ID_PATTERN;
export const Id = (description: string) => Type.String({ pattern: IdPattern, description });
/** -1 or more: -1 means unlimited. */
export const Limit = (description: string) => Type.Integer({ minimum: -1, maximum: 1e15, description });
export const Timestamp = Type.String({ format: 'date-time' });
/** A usage query's bound: a date or a date-time, with or without an offset. */
export const DateOrDateTime = (description: string) => Type.String({ maxLength: 64, pattern: DATE_OR_DATE_TIME_PATTERN, description });
/** An IANA time zone name: the pattern is its shape, the handler checks that the zone exists (src/domain/periods.ts, isValidTimeZone). */
export const TimeZoneName = (description: string) => Type.String({ maxLength: 64, pattern: TIME_ZONE_PATTERN, description });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export { DECIMAL_PATTERN };
export const Decimal = Type.String({ pattern: DECIMAL_PATTERN, description: 'A decimal amount such as "0.01".' });
export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code, e.g. "USD".' });
export const UsageType = (description: string) => Type.String({ pattern: IdPattern, description });

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'Items per page, 1 to 1000 (default 100).' })),
  after: Type.Optional(Type.String({ maxLength: 64, description: 'Return items whose id sorts after this one (the `next` of the previous page).' })),
});
export type PageQuery = Static<typeof PageQuery>;

export const page = <T extends TSchema>(item: T) => Type.Object({
  items: Type.Array(item),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` to get the next page; null on the last page.' }),
});
