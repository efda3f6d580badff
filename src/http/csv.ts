/** How a request asks for CSV, and the type it is answered with (the format itself: src/csv-format.ts). */
export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

/**
 * Whether a request asks for CSV: `format=csv`, or without `format` an
 * Accept header that prefers CSV to JSON.
 */
export function wantsCsv(format: string | undefined, accept: string | undefined): boolean {
  return format === undefined ? acceptPrefersCsv(accept) : format === 'csv';
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
