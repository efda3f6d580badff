import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted by UTF-16 code units (as in RFC 8785), no whitespace, numbers and
 * strings as JSON.stringify writes them. Two requests with the same arguments
 * in a different key order get the same text, and so the same hash.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    // undefined, functions and symbols have no JSON form; inside arrays JSON writes null.
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/**
 * The `request_args_hash` of a call: SHA-1 hex (40 characters) of the
 * canonical JSON of its arguments, or `""` for a call that gave none, as in
 * Mathpix's usage records.
 */
export function requestArgsHash(args: Record<string, unknown> | undefined): string {
  if (args === undefined) return '';
  return createHash('sha1').update(canonicalJson(args)).digest('hex');
}
