import { DATE_OR_DATE_TIME_PATTERN, HTTP_URL_PATTERN, NO_NUL_PATTERN, PERIOD_PATTERN, TIME_ZONE_PATTERN } from '../contract/patterns.js';

/**
 * The words a 400 uses for each pattern of the API's inputs (src/contract/patterns.ts):
 * "must be a billing month written YYYY-MM" says more than the regular
 * expression would. src/http/error-handler.ts says them.
 */

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
