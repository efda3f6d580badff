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
  // An explicit stack, not recursion: arguments nested a million deep fit in a request body, and must not overflow the call stack.
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item instanceof Literal) {
      out.push(item.text);
    } else if (item === null || typeof item !== 'object') {
      const text = JSON.stringify(item);
      // undefined, functions and symbols have no JSON form; inside arrays JSON writes null.
      out.push(text === undefined ? 'null' : text);
    } else if (Array.isArray(item)) {
      // Pushed in reverse, to come off the stack in order: "[", the items between commas, "]".
      stack.push(CLOSE_ARRAY);
      for (let i = item.length - 1; i >= 0; i--) stack.push(item[i], ...(i > 0 ? [COMMA] : []));
      stack.push(OPEN_ARRAY);
    } else {
      const keys = Object.keys(item).filter((k) => (item as Record<string, unknown>)[k] !== undefined).sort();
      stack.push(CLOSE_OBJECT);
      for (let i = keys.length - 1; i >= 0; i--) stack.push((item as Record<string, unknown>)[keys[i]!], new Literal(`${JSON.stringify(keys[i])}:`), ...(i > 0 ? [COMMA] : []));
      stack.push(OPEN_OBJECT);
    }
  }
  return out.join('');
}

/** Text to write as is, between the values on the stack. */
class Literal {
  constructor(readonly text: string) {}
}

const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT, COMMA] = ['[', ']', '{', '}', ','].map((t) => new Literal(t));

/**
 * The `request_args_hash` of a call: SHA-1 hex (40 characters) of the
 * canonical JSON of its arguments, or `""` for a call that gave none, as in
 * Mathpix's usage records.
 */
export function requestArgsHash(args: Record<string, unknown> | undefined): string {
  if (args === undefined) return '';
  return createHash('sha1').update(canonicalJson(args)).digest('hex');
}
