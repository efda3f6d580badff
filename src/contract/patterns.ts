/**
 * The string patterns of the API's inputs. The schemas (and so the OpenAPI
 * document) carry them; src/http/patterns.ts says each in words for a 400.
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

/** An http or https URL (the scheme in any case, as URL parsers read it). */
export const HTTP_URL_PATTERN = '^[Hh][Tt][Tt][Pp][Ss]?://';

/** A billing month, YYYY-MM. */
export const PERIOD_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])$';

/** An id of the catalogue: a plan's, a group's, an app's, a usage type. */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$';

/** A decimal amount as the API takes it (the CLI checks its price options against it too). */
export const DECIMAL_PATTERN = '^\\d{1,12}(\\.\\d{1,9})?$';

/**
 * Text without the NUL character (U+0000), for strings a store keeps as
 * given (idempotency keys): PostgreSQL's text columns cannot hold it, so both
 * stores refuse it alike rather than the scale-out one failing.
 */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';
