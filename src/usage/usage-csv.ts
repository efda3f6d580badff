import { toCsv } from '../csv-format.js';

/** The columns of a usage record, in the order of the JSON answer's fields. */
export const USAGE_CSV_COLUMNS = ['from_date', 'app_id', 'group_id', 'usage_type', 'request_args_hash', 'count'] as const;

export type UsageCsvRecord = Record<(typeof USAGE_CSV_COLUMNS)[number], string | number>;

/** Usage records as CSV: a header line, then a line per record (see toCsv). */
export function usageCsv(records: readonly UsageCsvRecord[]): string {
  return toCsv(USAGE_CSV_COLUMNS, records.map((record) => USAGE_CSV_COLUMNS.map((column) => record[column])));
}
