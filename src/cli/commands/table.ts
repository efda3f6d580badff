/** What a table cell may hold; null, undefined and "" show as "-". */
export type Cell = string | number | boolean | null | undefined;

/** A column: its header, and the item's field or a function that gives the cell. */
export interface Column<T> {
  header: string;
  value: keyof T | ((item: T) => Cell);
}

function cellText<T>(column: Column<T>, item: T): string {
  const cell = typeof column.value === 'function' ? column.value(item) : (item[column.value] as Cell);
  return cell === null || cell === undefined || cell === '' ? '-' : String(cell);
}

/**
 * Items as rows under a header line, each column as wide as its widest cell,
 * columns two spaces apart; "(none)" under the header when there are no items.
 *
 * @example
 * formatTable([{ header: 'ID', value: 'id' }], [{ id: 'pro' }]) // "ID\npro"
 */
export function formatTable<T>(columns: readonly Column<T>[], items: readonly T[]): string {
  const rows = [columns.map((c) => c.header), ...items.map((item) => columns.map((c) => cellText(c, item)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  return [...lines, ...(items.length === 0 ? ['(none)'] : [])].join('\n');
}

/** One item as aligned `HEADER  value` lines, one per column. */
export function formatRecord<T>(columns: readonly Column<T>[], item: T): string {
  const width = Math.max(...columns.map((c) => c.header.length));
  return columns.map((c) => `${c.header.padEnd(width)}  ${cellText(c, item)}`).join('\n');
}

/** A limit in words: -1 is "unlimited", null (an app without its own limit) is "none". */
export function formatLimit(limit: number | null): string {
  if (limit === null) return 'none';
  return limit === -1 ? 'unlimited' : String(limit);
}

/** A named limit in words: `images-month: 50000 per billing_period (group; image, pdf)`. */
export function formatNamedLimit(limit: { name: string; window: string; units: number; scope: string; usageTypes: string[] | null }): string {
  return `${limit.name}: ${limit.units} per ${limit.window} (${limit.scope}${limit.usageTypes === null ? '' : `; ${limit.usageTypes.join(', ')}`})`;
}
