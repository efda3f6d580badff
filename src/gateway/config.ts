import { readFileSync } from 'node:fs';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../config.js';
import { IdPattern } from '../contract/common.js';
import { OWN_PATHS, OWN_PREFIXES } from '../http/own-paths.js';
import { Locator, schemaProblems, type Problem } from './config-messages.js';

/**
 * The gateway file (`tollgate serve --gateway gateway.yaml`): which routes
 * Tollgate forwards to which upstream, and what each call costs. YAML or
 * JSON, checked once at start; every problem is reported with the line (and
 * the field) it is about, e.g.
 * `gateway.yaml line 12: routes[1].cost.response_header must be a string`.
 */

/** Methods a route may name; `*` means all of them. */
export const GATEWAY_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type GatewayMethod = (typeof GATEWAY_METHODS)[number];

/** Tollgate's own paths (src/http/own-paths.ts): a gateway route may not match any of them, nor anything under the prefixes. */
const RESERVED_PATHS: readonly string[] = [...OWN_PATHS, ...OWN_PREFIXES];
const RESERVED_PREFIXES: ReadonlySet<string> = new Set(OWN_PREFIXES);
const RESERVED_IN_WORDS = `${RESERVED_PATHS.join(', ')}, ${OWN_PREFIXES.map((prefix) => `${prefix}/*`).join(', ').replace(/, ([^,]*)$/, ' or $1')}`;

/** Headers that carry the customer's secret: never hashed into request_args. */
const SECRET_HEADERS = new Set(['x-api-key', 'app_key', 'authorization', 'proxy-authorization', 'cookie']);

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;
export const MAX_COST = 1_000_000_000;

/** What a call costs, in units. */
export type CostRule =
  /** The same for every call. */
  | { kind: 'fixed'; units: number }
  /** Read from a request header; `default` when the header is absent. */
  | { kind: 'request_header'; header: string; default: number }
  /** Read from the upstream's answer; `reserve` units are held while the call is in flight. */
  | { kind: 'response_header'; header: string; reserve: number };

/** Which upstream statuses count as a served call: whole classes (2 for 2xx) and single codes. */
export interface StatusRule {
  classes: number[];
  codes: number[];
}

export interface GatewayRoute {
  /** Position in the file's `routes` list, for messages. */
  index: number;
  /** Line of the route in the file (1-based), or null when unknown. */
  line: number | null;
  methods: GatewayMethod[];
  /** A Fastify path pattern: `/v1/jobs/:id`, `/v1/files/*`. */
  path: string;
  /** The upstream's origin (`http://127.0.0.1:9000`), and a path prefix put before the request's path ('' for none). */
  upstream: { origin: string; basePath: string };
  usageType: string;
  cost: CostRule;
  countStatuses: StatusRule;
  /** Lower-case header names and query field names whose values make up `request_args`. */
  requestArgs: { headers: string[]; query: string[] };
  /** How long the upstream may take to connect and to start answering, in milliseconds. */
  timeoutMs: number;
}

export interface GatewayConfig {
  /** The file it was read from (as given), for messages. */
  source: string;
  routes: GatewayRoute[];
}

/** A gateway file that cannot be used; `problems` holds one self-contained sentence per problem. */
export class GatewayConfigError extends ConfigError {
  override name = 'GatewayConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

// ------------------------------------------------------------------ schema

const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$";
const Units = Type.Integer({ minimum: 1, maximum: MAX_COST });
const HeaderName = Type.String({ pattern: HEADER_NAME });
const Timeout = Type.Integer({ minimum: 1, maximum: 3_600_000 });

const CostSchema = Type.Object({
  fixed: Type.Optional(Units),
  request_header: Type.Optional(HeaderName),
  default: Type.Optional(Units),
  response_header: Type.Optional(HeaderName),
  reserve: Type.Optional(Units),
}, { additionalProperties: false });

// `method` and `count_statuses` take several shapes; they are checked by hand,
// which gives clearer messages than a union's list of every branch that failed.
const RouteSchema = Type.Object({
  method: Type.Unknown(),
  path: Type.String({ minLength: 1, maxLength: 2048 }),
  upstream: Type.String({ minLength: 1, maxLength: 2048 }),
  usage_type: Type.String({ pattern: IdPattern }),
  cost: Type.Optional(CostSchema),
  count_statuses: Type.Optional(Type.Unknown()),
  request_args: Type.Optional(Type.Object({
    headers: Type.Optional(Type.Array(HeaderName)),
    query: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }))),
  }, { additionalProperties: false })),
  timeout_ms: Type.Optional(Timeout),
}, { additionalProperties: false });

const FileSchema = Type.Object({
  upstream_timeout_ms: Type.Optional(Timeout),
  routes: Type.Array(RouteSchema, { minItems: 1 }),
}, { additionalProperties: false });

interface RawRoute {
  method: unknown;
  path: string;
  upstream: string;
  usage_type: string;
  cost?: { fixed?: number; request_header?: string; default?: number; response_header?: string; reserve?: number };
  count_statuses?: unknown;
  request_args?: { headers?: string[]; query?: string[] };
  timeout_ms?: number;
}

interface RawFile {
  upstream_timeout_ms?: number;
  routes: RawRoute[];
}

// ------------------------------------------------------------------ loading

/** Reads and checks a gateway file; throws GatewayConfigError naming the file, line and field. */
export function loadGatewayConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new GatewayConfigError([`${file}: cannot read the gateway file (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  return parseGatewayConfig(text, file);
}

/**
 * Parses and checks a gateway file's text. `source` names it in messages and
 * chooses the format: JSON when it ends in `.json`, YAML otherwise.
 */
export function parseGatewayConfig(text: string, source: string): GatewayConfig {
  const lines = new LineCounter();
  // JSON is (nearly) YAML: the YAML parse gives JSON files line numbers too.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const where = new Locator(source, doc, lines);

  let value: unknown;
  if (/\.json$/i.test(source)) {
    try {
      value = JSON.parse(text);
    } catch (error) {
      const position = /position (\d+)/.exec((error as Error).message);
      const syntax = doc.errors[0];
      const line = position ? lines.linePos(Number(position[1])).line : syntax ? lines.linePos(syntax.pos[0]).line : null;
      throw new GatewayConfigError([`${where.prefix(line)}not valid JSON: ${(error as Error).message}`]);
    }
  } else {
    const syntax = doc.errors[0];
    if (syntax !== undefined) {
      const line = lines.linePos(syntax.pos[0]).line;
      throw new GatewayConfigError([`${where.prefix(line)}not valid YAML: ${syntax.message.split('\n')[0]}`]);
    }
    value = doc.toJS({ maxAliasCount: 100 });
  }

  if (value === null || value === undefined) {
    throw new GatewayConfigError([`${source}: the file is empty; it needs a "routes" list`]);
  }
  if (!Value.Check(FileSchema, value)) {
    throw new GatewayConfigError(schemaProblems(FileSchema, value, where));
  }
  return checkRoutes(value as RawFile, where, source);
}

// ------------------------------------------------------------------ checks beyond the schema

function checkRoutes(file: RawFile, where: Locator, source: string): GatewayConfig {
  const problems: Problem[] = [];
  const defaultTimeout = file.upstream_timeout_ms ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
  const routes: GatewayRoute[] = [];
  const seen = new Map<string, number>();

  file.routes.forEach((raw, index) => {
    const at = (...rest: Array<string | number>) => ['routes', index, ...rest];
    const report = (path: Array<string | number>, message: string) => problems.push({ path, message });

    const methods = parseMethods(raw.method, (message) => report(at('method'), message));
    const pathProblem = checkPathPattern(raw.path);
    if (pathProblem !== null) report(at('path'), pathProblem);
    const upstream = parseUpstream(raw.upstream, (message) => report(at('upstream'), message));
    const cost = parseCost(raw.cost, (field, message) => report(at('cost', ...field), message));
    const countStatuses = parseStatuses(raw.count_statuses, (path, message) => report(at('count_statuses', ...path), message));

    const headers = (raw.request_args?.headers ?? []).map((h) => h.toLowerCase());
    const query = raw.request_args?.query ?? [];
    headers.forEach((h, i) => {
      if (SECRET_HEADERS.has(h)) report(at('request_args', 'headers', i), `names "${h}", which carries credentials and cannot be a request argument`);
      if (query.includes(h)) report(at('request_args', 'headers', i), `names "${h}", which is also a query field: request_args names must be distinct`);
    });

    if (methods !== null && pathProblem === null) {
      // Fastify sees /jobs/:id and /jobs/:job as the same route.
      const shape = raw.path.replace(/:[^/]+/g, ':');
      for (const method of methods) {
        const previous = seen.get(`${method} ${shape}`);
        if (previous !== undefined) {
          report(at('path'), `${method} ${raw.path} is already routed by routes[${previous}]`);
          break;
        }
        seen.set(`${method} ${shape}`, index);
      }
    }

    if (methods !== null && pathProblem === null && upstream !== null && cost !== null && countStatuses !== null) {
      routes.push({
        index,
        line: where.line(['routes', index]),
        methods,
        path: raw.path,
        upstream,
        usageType: raw.usage_type,
        cost,
        countStatuses,
        requestArgs: { headers, query },
        timeoutMs: raw.timeout_ms ?? defaultTimeout,
      });
    }
  });

  if (problems.length > 0) throw new GatewayConfigError(where.describe(problems));
  return { source, routes };
}

function parseMethods(raw: unknown, report: (message: string) => void): GatewayMethod[] | null {
  const allowed = `one of ${GATEWAY_METHODS.join(', ')}, a list of them, or "*"`;
  const list = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : null;
  if (list === null || list.length === 0 || list.some((m) => typeof m !== 'string')) {
    report(`must be ${allowed}`);
    return null;
  }
  const upper = (list as string[]).map((m) => m.trim().toUpperCase());
  if (upper.includes('*')) {
    if (upper.length > 1) {
      report('"*" already means every method: give it alone');
      return null;
    }
    return [...GATEWAY_METHODS];
  }
  const unknown = upper.find((m) => !(GATEWAY_METHODS as readonly string[]).includes(m));
  if (unknown !== undefined) {
    report(`must be ${allowed}, got "${unknown}"`);
    return null;
  }
  return [...new Set(upper)] as GatewayMethod[];
}

/** Null when the pattern is usable; otherwise why not. */
function checkPathPattern(path: string): string | null {
  if (!path.startsWith('/')) return `must start with "/", got "${path}"`;
  if (/[?#\s]/.test(path)) return `must be a path without query, fragment or spaces, got "${path}"`;
  if (path.includes('*') && path.indexOf('*') !== path.length - 1) return `may have "*" only at its end, got "${path}"`;
  const reserved = RESERVED_PATHS.find((own) => overlaps(path, own));
  if (reserved !== undefined) {
    return `"${path}" would take requests for Tollgate's own ${reserved === '/admin' ? '/admin API' : reserved}; gateway routes may not overlap ${RESERVED_IN_WORDS}`;
  }
  return null;
}

/** Whether a Fastify path pattern can match one of Tollgate's own paths (for a prefix: anything under it). */
function overlaps(pattern: string, own: string): boolean {
  const prefix = RESERVED_PREFIXES.has(own);
  if (prefix && (pattern === own || pattern.startsWith(`${own}/`))) return true;
  const source = pattern
    .split(/(\*|:[A-Za-z0-9_]+(?:\([^)]*\))?)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') && part.length > 1 ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const matcher = new RegExp(`^${source}$`);
  return prefix ? [own, `${own}/x`, `${own}/x/y`, `${own}/x/y/z`].some((p) => matcher.test(p)) : matcher.test(own);
}

function parseUpstream(raw: string, report: (message: string) => void): GatewayRoute['upstream'] | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    report(`must be an http:// or https:// URL, got "${raw}"`);
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    report(`must be an http:// or https:// URL, got "${raw}"`);
    return null;
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    report(`must be an origin with an optional path prefix (no query, fragment or credentials), got "${raw}"`);
    return null;
  }
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
}

function parseCost(raw: RawRoute['cost'], report: (field: string[], message: string) => void): CostRule | null {
  if (raw === undefined) return { kind: 'fixed', units: 1 };
  const kinds = (['fixed', 'request_header', 'response_header'] as const).filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) {
    report([], kinds.length === 0
      ? 'must give one of fixed, request_header or response_header'
      : `must give only one of fixed, request_header or response_header, got ${kinds.join(' and ')}`);
    return null;
  }
  if (raw.default !== undefined && kinds[0] !== 'request_header') {
    report(['default'], 'goes with request_header only');
    return null;
  }
  if (raw.reserve !== undefined && kinds[0] !== 'response_header') {
    report(['reserve'], 'goes with response_header only');
    return null;
  }
  switch (kinds[0]!) {
    case 'fixed':
      return { kind: 'fixed', units: raw.fixed! };
    case 'request_header':
      return { kind: 'request_header', header: raw.request_header!.toLowerCase(), default: raw.default ?? 1 };
    case 'response_header':
      return { kind: 'response_header', header: raw.response_header!.toLowerCase(), reserve: raw.reserve ?? 1 };
  }
}

/** `2xx` (the default), `"2xx,3xx"`, `[200, 201]`, or a list mixing both: `["2xx", 404]`. */
function parseStatuses(raw: unknown, report: (path: Array<string | number>, message: string) => void): StatusRule | null {
  if (raw === undefined || raw === null) return { classes: [2], codes: [] };
  const items: Array<{ value: unknown; path: Array<string | number> }> = typeof raw === 'string'
    ? raw.split(',').map((value) => ({ value: value.trim(), path: [] }))
    : typeof raw === 'number' ? [{ value: raw, path: [] }]
      : Array.isArray(raw) ? raw.map((value, i) => ({ value, path: [i] })) : [];
  if (items.length === 0) {
    report([], 'must be a status class such as "2xx", a list of classes and codes such as [200, 201] or "2xx,3xx"');
    return null;
  }
  const rule: StatusRule = { classes: [], codes: [] };
  for (const { value, path } of items) {
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim().toLowerCase() : '';
    const klass = /^([1-5])xx$/.exec(text);
    if (klass) rule.classes.push(Number(klass[1]));
    else if (/^[1-5]\d\d$/.test(text)) rule.codes.push(Number(text));
    else {
      report(path, `must be a status code (100 to 599) or a class such as "2xx", got ${JSON.stringify(value)}`);
      return null;
    }
  }
  return rule;
}
