/**
 * CSV as RFC 4180 writes it: comma-separated, CRLF line ends, a field quoted
 * (and its quotes doubled) when it holds a comma, a quote or a line break.
 * Null is an empty field.
 */
export type CsvValue = string | number | null;

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvValue[]>): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

function csvField(value: CsvValue): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Whether a request asks for CSV: `format=csv`, or without `format` an
 * Accept header that names text/csv (and prefers it to JSON).
 */
export function wantsCsv(format: string | undefined, accept: string | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  if (accept === undefined) return false;
  const quality = (type: string): number => {
    for (const part of accept.split(',')) {
      const [name, ...params] = part.trim().split(';');
      if (name?.trim().toLowerCase() !== type) continue;
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return q === undefined ? 1 : Number(q.slice(2)) || 0;
    }
    return 0;
  };
  return quality('text/csv') > 0 && quality('text/csv') >= quality('application/json');
}
