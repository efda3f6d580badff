/** The columns of a usage record, in the order of the JSON answer's fields. */
export const USAGE_CSV_COLUMNS = ['from_date', 'app_id', 'group_id', 'usage_type', 'request_args_hash', 'count'] as const;

export type UsageCsvRecord = Record<(typeof USAGE_CSV_COLUMNS)[number], string | number>;

/**
 * Usage records as CSV (RFC 4180): a header line, then a line per record,
 * each ended by CRLF. A field holding a comma, a double quote or a line
 * break is enclosed in double quotes, its quotes doubled.
 */
export function usageCsv(records: readonly UsageCsvRecord[]): string {
  const lines = [USAGE_CSV_COLUMNS.join(',')];
  for (const record of records) lines.push(USAGE_CSV_COLUMNS.map((column) => csvField(String(record[column]))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * Whether an Accept header prefers CSV to JSON: the quality of each is that
 * of the most specific range matching it (RFC 9110 §12.5.1); a tie, `*\/*`
 * included, stays JSON.
 */
export function acceptPrefersCsv(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const ranges = accept.split(',').map((part) => {
    const [range, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range: range ?? '', quality: Number.isFinite(quality) ? quality : 0 };
  });
  const quality = (type: string): number => {
    const [major] = type.split('/');
    for (const candidate of [type, `${major}/*`, '*/*']) {
      const match = ranges.find((r) => r.range === candidate);
      if (match !== undefined) return match.quality;
    }
    return 0;
  };
  return quality('text/csv') > quality('application/json');
}
