import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

/**
 * The gateway file's problems in the file's own words: schema findings
 * turned into one sentence per field, each with the line it is about, e.g.
 * `gateway.yaml line 12: routes[1].cost.response_header must be a string`.
 */

/** Messages for patterns, by the name of the field they constrain. */
const PATTERN_MESSAGES: Record<string, string> = {
  usage_type: 'must be 1 to 64 letters, digits or ._:- starting with a letter or digit',
  request_header: 'must be an HTTP header name',
  response_header: 'must be an HTTP header name',
  headers: 'must be an HTTP header name',
};

export interface Problem {
  path: Array<string | number>;
  message: string;
  /** Point at the key rather than its value (an unknown field). */
  atKey?: boolean;
}

/** Turns schema findings into problems, one per field, in the file's words. */
export function schemaProblems(schema: TSchema, value: unknown, where: Locator): string[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, value)) {
    const path = e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'boolean') continue; // the same unknown field as its additionalProperties finding
    if (e.keyword === 'required') {
      for (const name of params.requiredProperties as string[]) {
        if (!hasKey(value, path, name)) problems.push({ path: [...path, name], message: 'is required' });
      }
      continue;
    }
    if (e.keyword === 'additionalProperties') {
      const expected = Object.keys((schemaAt(schema, e.schemaPath) as { properties?: object }).properties ?? {});
      for (const name of params.additionalProperties as string[]) {
        problems.push({ path: [...path, name], message: `is not a recognised field (expected one of: ${expected.join(', ')})`, atKey: true });
      }
      continue;
    }
    const key = path.join('/');
    if (seen.has(key)) continue; // one finding per field is enough
    seen.add(key);
    problems.push({ path, message: describeFinding(e.keyword, params, path) });
  }
  return where.describe(problems);
}

function describeFinding(keyword: string, params: Record<string, unknown>, path: Array<string | number>): string {
  switch (keyword) {
    case 'type': {
      const names: Record<string, string> = { string: 'a string', integer: 'a whole number', number: 'a number', object: 'a mapping of fields', array: 'a list', boolean: 'true or false' };
      return `must be ${names[String(params.type)] ?? String(params.type)}`;
    }
    case 'minimum': return `must be at least ${String(params.limit)}`;
    case 'maximum': return `must be at most ${String(params.limit)}`;
    case 'minItems': return `must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`;
    case 'minLength': return 'must not be empty';
    case 'maxLength': return `must be at most ${String(params.limit)} characters`;
    case 'pattern': {
      const field = [...path].reverse().find((s): s is string => typeof s === 'string') ?? '';
      return PATTERN_MESSAGES[field] ?? `must match ${String(params.pattern)}`;
    }
    default: return 'is invalid';
  }
}

function hasKey(value: unknown, path: Array<string | number>, name: string): boolean {
  let node: unknown = value;
  for (const segment of path) node = (node as Record<string | number, unknown> | null)?.[segment];
  return typeof node === 'object' && node !== null && Object.hasOwn(node, name);
}

/** The sub-schema a finding's schemaPath (`#/properties/routes/items`) points at. */
function schemaAt(schema: TSchema, pointer: string): unknown {
  let node: unknown = schema;
  for (const segment of pointer.split('/').slice(1)) node = (node as Record<string, unknown>)[segment];
  return node;
}

/** Finds the line of a field in the parsed document, and writes messages that name it. */
export class Locator {
  constructor(private readonly source: string, private readonly doc: Document, private readonly lines: LineCounter) {}

  prefix(line: number | null): string {
    return line === null ? `${this.source}: ` : `${this.source} line ${line}: `;
  }

  /** The line of the field at `path` or, when it is absent, of the nearest field that holds it. */
  line(path: Array<string | number>, atKey = false): number | null {
    let node: unknown = this.doc.contents;
    let found: Node | null = isNodeWithRange(node) ? node : null;
    for (let i = 0; i < path.length; i += 1) {
      const segment = path[i]!;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
        if (pair === undefined) break;
        const last = i === path.length - 1;
        node = atKey && last ? pair.key : pair.value ?? pair.key;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
      } else {
        break;
      }
      if (!isNodeWithRange(node)) break;
      found = node;
    }
    return found?.range ? this.lines.linePos(found.range[0]).line : null;
  }

  /** One sentence per problem, in file order: `gateway.yaml line 12: routes[1].cost.fixed must be ...`. */
  describe(problems: Problem[]): string[] {
    return problems
      .map((p) => ({ line: this.line(p.path, p.atKey), text: `${fieldName(p.path)} ${p.message}` }))
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
      .map((p) => `${this.prefix(p.line)}${p.text}`);
  }
}

function isNodeWithRange(node: unknown): node is Node {
  return typeof node === 'object' && node !== null && 'range' in node && Array.isArray((node as Node).range);
}

/** ['routes', 1, 'cost', 'fixed'] → `routes[1].cost.fixed`; [] → `the file`. */
export function fieldName(path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return 'the file';
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
