/**
 * CSV as RFC 4180 writes it: comma-separated, CRLF line ends, a field quoted
 * (and its quotes doubled) when it holds a comma, a quote or a line break.
 * Null is an empty field.
 */
export type CsvValue = string | number | null;

export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvValue[]>): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

function csvField(value: CsvValue): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
