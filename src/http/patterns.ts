import { PERIOD_PATTERN } from '../billing/statements.js';

/**
 * The string patterns of the API's inputs, each with the words a 400 uses
 * for it: "must be a billing month written YYYY-MM" says more than the
 * regular expression would. The schemas (and so the OpenAPI document) carry
 * the patterns; src/http/error-handler.ts says the words.
 */

/**
 * An ISO 8601 date, or a date-time to the minute, second or nanosecond, with
 * or without a UTC offset (without one, the usage queries read it in their
 * time zone). Calendar checks (no 30 February) and the range of years are the
 * handler's.
 */
export const DATE_OR_DATE_TIME_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])'
  + '(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$';

/** The shape of an IANA time zone name ("UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"); whether the zone exists is the handler's check. */
export const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$';

/**
 * Text without the NUL character (U+0000), for strings a store keeps as
 * given (idempotency keys, app ids): PostgreSQL's text columns cannot hold
 * it, so both stores refuse it alike rather than the scale-out one failing.
 */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';

/** An http or https URL (the scheme in any case, as URL parsers read it). */
export const HTTP_URL_PATTERN = '^[Hh][Tt][Tt][Pp][Ss]?://';

const PATTERN_WORDS: Readonly<Record<string, string>> = {
  [DATE_OR_DATE_TIME_PATTERN]: 'an ISO 8601 date-time such as 2021-01-01T00:00:00.000Z, or a date such as 2021-01-01, between the years 1970 and 9999',
  [TIME_ZONE_PATTERN]: 'an IANA time zone such as "UTC" or "Asia/Kolkata"',
  [HTTP_URL_PATTERN]: 'an absolute http or https URL such as https://example.com/hooks/tollgate',
  [PERIOD_PATTERN]: 'a billing month written YYYY-MM, e.g. 2026-10',
  [NO_NUL_PATTERN]: 'text without the NUL character (U+0000)',
};

const FORMAT_WORDS: Readonly<Record<string, string>> = {
  'date-time': 'an RFC 3339 date-time with its offset, such as 2027-01-01T00:00:00Z',
  uri: 'an absolute URL such as https://example.com/hooks/tollgate',
};

/** What a value that fails `pattern` (or `format`) should have been, in words; undefined for a pattern without any. */
export function expectedWords(keyword: string, pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return undefined;
  if (keyword === 'pattern') return PATTERN_WORDS[pattern];
  if (keyword === 'format') return FORMAT_WORDS[pattern];
  return undefined;
}
