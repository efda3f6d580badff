import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import type { Pool } from 'undici';

/**
 * Requests generated for the bad-input property tests: one per documented
 * operation, built from the OpenAPI document's schemas and bent out of shape
 * by hand-written arbitraries, and sent either through an undici pool or, for
 * what no well-behaved client can send (control characters in headers,
 * duplicate Content-Length, broken request lines), as raw bytes on a socket.
 */
export interface FuzzRequest {
  /** The documented operation aimed at, "GET /admin/plans/{plan_id}", or "raw" for a request undici cannot express. */
  operation: string;
  method: string;
  /** Path and query, as sent (already encoded). */
  path: string;
  /** Header pairs; a name may repeat. */
  headers: Array<[string, string]>;
  body?: Buffer;
  /** Raw bytes for a socket: the whole request, sent as is. */
  raw?: Buffer;
  /** Raw only: the request is incomplete on purpose, and the sending side is closed after it. */
  halfClose?: boolean;
}

export interface FuzzAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

interface Operation {
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: Schema }>;
  requestBody?: { content: Record<string, { schema?: Schema }> };
}

type Schema = Record<string, any>;

/** What the generated requests may use: good credentials, and ids that exist, so that calls get past authentication and lookups. */
export interface FuzzContext {
  adminToken: string;
  customerKey: string;
  customerAppId: string;
  /** Existing ids by path parameter name (plan_id, group_id, ...), safe to change or delete. */
  ids: Record<string, string[]>;
}

/** A request written as a command that sends it again: curl, or printf into nc for raw bytes. */
export function reproduce(request: FuzzRequest, baseUrl: string): string {
  if (request.raw !== undefined) {
    const { hostname, port } = new URL(baseUrl);
    return `printf '%s' '${request.raw.toString('base64')}' | base64 -d | nc ${hostname} ${port}`;
  }
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = [`curl -i -X ${request.method}`, quote(`${baseUrl}${request.path}`), '--path-as-is'];
  for (const [name, value] of request.headers) {
    // A long run of one character is written as the command that makes it.
    const run = /^(\w)\1{199,}$/.exec(value);
    parts.push(run ? `-H "${name}: $(printf '%*s' ${value.length} '' | tr ' ' ${run[1]})"` : `-H ${quote(`${name}: ${value}`)}`);
  }
  if (request.body !== undefined) {
    const text = request.body.toString('utf8');
    const printable = Buffer.from(text, 'utf8').equals(request.body) && !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text);
    // A large body is written to a file for the command to send.
    if (request.body.length > 2000) parts.push(`--data-binary @${saveBody(request.body)}`);
    else if (printable) parts.push(`--data-binary ${quote(text)}`);
    else parts.push(`--data-binary @<(printf '%s' '${request.body.toString('base64')}' | base64 -d)`);
  }
  return parts.join(' ');
}

function saveBody(body: Buffer): string {
  const file = join(tmpdir(), `tollgate-fuzz-${createHash('sha1').update(body).digest('hex').slice(0, 12)}.body`);
  writeFileSync(file, body);
  return file;
}

/** Sends a request through the pool, or on its own socket when it is raw. */
export async function send(pool: Pool, baseUrl: string, request: FuzzRequest): Promise<FuzzAnswer> {
  if (request.raw !== undefined) return sendRaw(baseUrl, request.raw, request.halfClose);
  const res = await pool.request({
    method: request.method,
    path: request.path,
    headers: request.headers.flat(),
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  const body = await res.body.text();
  const type = res.headers['content-type'];
  return { status: res.statusCode, contentType: Array.isArray(type) ? type.join(', ') : type ?? '', body };
}

/**
 * Writes the bytes and reads one HTTP answer (interim 1xx answers skipped).
 * `halfClose` ends the sending side too, for a request left incomplete on
 * purpose; otherwise the socket stays open, as a client's does, until the
 * answer is in. An https:// server is reached over TLS, trusting `ca`.
 */
export function sendRaw(baseUrl: string, bytes: Buffer, halfClose = false, timeoutMs = 15_000, ca?: Buffer): Promise<FuzzAnswer> {
  const { protocol, hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const address = { host: hostname, port: Number(port) };
    const socket = protocol === 'https:' ? tlsConnect({ ...address, ...(ca === undefined ? {} : { ca }) }) : connect(address);
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | null, answer?: FuzzAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== null) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const parse = (closed: boolean) => {
      let text = received.toString('latin1');
      while (/^HTTP\/1\.[01] 1\d\d[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/.test(text)) text = text.replace(/^HTTP\/1\.[01] 1\d\d[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/, '');
      const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      if (match === null) {
        if (closed) finish(new Error(`no HTTP answer, the server sent ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const headers = match[2]!.split('\r\n');
      const header = (name: string) => headers.find((h) => h.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
      const length = header('content-length');
      const body = Buffer.from(match[3]!, 'latin1');
      if (length === undefined ? !closed : body.length < Number(length)) return;
      finish(null, { status: Number(match[1]), contentType: header('content-type') ?? '', body: body.subarray(0, length === undefined ? body.length : Number(length)).toString('utf8') });
    };
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      parse(false);
    });
    // A server that answers early (413) and closes may reset the connection under a client still writing: the answer may be in already.
    socket.on('error', (error) => {
      parse(true);
      finish(error);
    });
    socket.on('close', () => parse(true));
    if (halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

/**
 * What every answer must be: never a 5xx, and every 4xx a JSON
 * `{"error", "message"}` with both strings. Returns the problem, or null.
 */
export function answerProblem(request: FuzzRequest, answer: FuzzAnswer): string | null {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.body.slice(0, 300)}`;
  if (answer.status < 400 || request.method === 'HEAD') return null;
  if (!/^application\/json\b/.test(answer.contentType)) return `answered ${answer.status} as ${JSON.stringify(answer.contentType)}: ${answer.body.slice(0, 300)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return `answered ${answer.status} with a body that is not JSON: ${answer.body.slice(0, 300)}`;
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  const message = (parsed as { message?: unknown } | null)?.message;
  if (typeof error !== 'string' || typeof message !== 'string' || error === '' || message === '') {
    return `answered ${answer.status} without the {"error", "message"} shape: ${answer.body.slice(0, 300)}`;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Hand-written arbitraries for the nasty cases.

const CONTROL = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));

/** Strings a parser or a database might choke on. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.oneof(CONTROL, fc.constantFrom('\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\u202e', '\ud800', '\udfff', '\u0000')), minLength: 1, maxLength: 10 }),
  fc.constantFrom('', ' ', '%', '%00', '%2F', '../..', '__proto__', 'constructor', 'null', 'undefined', 'NaN', '-1', '0', '1e309',
    "' OR 1=1 --", '"; DROP TABLE plans; --', '${7*7}', '<script>', '\\', '\u0000', 'é', '日本語', '🦀', 'Ä'.normalize('NFD')),
  fc.integer({ min: 65, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

/** Date-times that are wrong, extreme or just odd. */
export const nastyDate: fc.Arbitrary<string> = fc.oneof(
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.date({ min: new Date('1969-12-31T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2021-13-01', '2021-02-30T00:00:00Z', '2021-01-01T24:00:00Z', '2021-01-01T25:61:61Z', '0000-01-01', '1970-01-01', '9999-12-31T23:59:59.999Z',
    '10000-01-01', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '2021-01-01T00:00:00+25:00',
    '2021-01-01T00:00:00.123456789Z', '2021-W53-7', '2021-366', '2020-366', '20210101T000000Z', 'now', 'today', '1e10', '1609459200',
    '２０２１-01-01', '2021-01-01T00:00:00Z\u0000', ' 2021-01-01', '2021-01-01T00:00:00Z[Europe/Paris]', '2021-03-28T02:30:00', 'T', '-', ''),
  nastyString,
);

/** Numbers at and past every edge, as JSON text (1e400 is not representable, -0 and 1.0 are odd integers). */
export const nastyNumberText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('0', '-0', '-1', '1.0', '1.5', '1e3', '1E+3', '1e309', '-1e309', '1e-400', '9007199254740993', '-9007199254740993',
    '1000000000000001', '99999999999999999999999999999', '4294967296', '2147483648', '0.1e1', '1' + '0'.repeat(400)),
  fc.double().filter(Number.isFinite).map(String),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
);

/** Any JSON text, nasty values included: objects, huge numbers, unicode, prototype keys. */
export const nastyJsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyNumberText,
    nastyString.map((s) => JSON.stringify(s)),
    fc.constantFrom('null', 'true', 'false', '{}', '[]'),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    fc.array(fc.tuple(fc.oneof(nastyString, fc.constantFrom('__proto__', 'constructor', 'prototype')), tie('value')), { maxLength: 4 })
      .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).value;

/** Deeply nested arrays and objects, alone or inside a field. */
export const deepJsonText: fc.Arbitrary<string> = fc.tuple(fc.integer({ min: 100, max: 200_000 }), fc.constantFrom('[', '{"a":'), fc.boolean())
  .map(([depth, open, unclosed]) => {
    const close = open === '[' ? ']' : '}';
    return open.repeat(depth) + (open === '[' ? '' : '1') + (unclosed ? '' : close.repeat(depth));
  });

/** Bodies that are not well-formed JSON, or not JSON at all. */
export const brokenBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom('', ' ', '{', '}', '{"a":1,}', "{'a':1}", '{"a":1}{"b":2}', '{"a":1}\u0000', '\ufeff{}', 'null', '"string"', '12', 'NaN', '[1,2',
    '{"a":"\\u12"}', '{"a":"\\ud800"}', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"a":1,"a":2}').map((s) => Buffer.from(s)),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a)),
  // Invalid UTF-8 inside a JSON string, and an overlong encoding of "/".
  fc.constantFrom([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d], [0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d], [0xed, 0xa0, 0x80])
    .map((bytes) => Buffer.from(bytes)),
);

/** Content types a JSON route must refuse or cope with. */
export const oddContentType: fc.Arbitrary<string> = fc.constantFrom(
  'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream',
  'application/json; charset=latin1', 'application/json; charset=utf-16', 'APPLICATION/JSON', 'application/json;', 'application/jsonx',
  'application/json, text/plain', 'text/json', 'application/x-ndjson', 'application/cloudevents-batch+json', '*/*', 'json', ';', ' ',
  'application/vnd.api+json', 'application/problem+json',
);

/** Percent-encoded UTF-8; a lone surrogate, which has none, becomes U+FFFD as in any client. */
function encode(value: string): string {
  return encodeURIComponent(Buffer.from(value, 'utf8').toString('utf8'));
}

/** A path segment for an id: valid-looking, unknown, encoded slashes, dot segments, unicode, malformed escapes, too long. */
export function segment(known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: known.length > 0 ? fc.constantFrom(...known) : fc.constant('none'), weight: 6 },
    { arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/), weight: 3 },
    { arbitrary: nastyString.map(encode), weight: 3 },
    { arbitrary: fc.constantFrom('a%2Fb', '%2F', '..%2F..%2Fadmin', '%2e%2e', '.', '..', '%00', '%E0%A4%A', '%', '%zz', '%C0%AF', 'a;b', 'a?b=', '%3F', '%23', 'a%20b', '~', '*'), weight: 2 },
    { arbitrary: fc.integer({ min: 64, max: 5000 }).map((n) => 'k'.repeat(n)), weight: 1 },
  );
}

/** Header pairs no route expects: odd Accept, request ids, duplicates, long values. */
const extraHeaders: fc.Arbitrary<Array<[string, string]>> = fc.array(fc.oneof(
  fc.constantFrom<[string, string]>(['accept', 'text/csv'], ['accept', 'text/csv;q=0, application/json'], ['accept', '*/*;q=abc'], ['accept', 'image/png'],
    ['accept-encoding', 'gzip, br, zstd'], ['x-request-id', 'ab cd'], ['x-request-id', 'x'.repeat(300)], ['if-none-match', '*'], ['range', 'bytes=0-1'],
    ['x-forwarded-for', '1.2.3.4, ::1'], ['origin', 'https://evil.example']),
  fc.tuple(fc.constantFrom('x-request-id', 'accept', 'x-custom', 'user-agent'), fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 50 })),
  fc.integer({ min: 1000, max: 12_000 }).map((n): [string, string] => ['x-long', 'v'.repeat(n)]),
), { maxLength: 3 });

// ---------------------------------------------------------------------------
// Requests from the OpenAPI document.

/** A value for a schema of the document: mostly valid, so that checks past the first are reached. */
function fromSchema(doc: OpenApiDocument, schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || depth > 6) return fc.jsonValue({ maxDepth: 2 });
  if (typeof schema.$ref === 'string') return fromSchema(doc, doc.components.schemas[schema.$ref.replace(/^#\/components\/schemas\//, '')], depth + 1);
  const branches = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(branches)) return fc.oneof(...branches.map((b: Schema) => fromSchema(doc, b, depth + 1)));
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  if ('const' in schema) return fc.constant(schema.const);
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date-time') return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
      // A URL the server will accept, on a closed local port: whatever is sent there goes nowhere.
      if (schema.format === 'uri') return fc.webPath().map((path) => `http://127.0.0.1:9${path}`);
      if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= (schema.maxLength ?? 64));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 30) });
    case 'integer':
      return fc.integer({ min: Math.max(schema.minimum ?? -1000, -1e9), max: Math.min(schema.maximum ?? 1e6, 1e9) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema(doc, schema.items, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'object': {
      const properties: Record<string, Schema> = schema.properties ?? {};
      const record = Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, fromSchema(doc, s, depth + 1)]));
      return fc.record(record, { requiredKeys: schema.required ?? [] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A valid body, one bent out of shape (a field wrong, missing or extra), or something else entirely. */
function bodyText(doc: OpenApiDocument, schema: Schema | undefined, ctx: FuzzContext): fc.Arbitrary<Buffer> {
  const valid = fromSchema(doc, schema).map((value) => withCredentials(value, ctx));
  return fc.oneof(
    { weight: 5, arbitrary: valid.map((v) => Buffer.from(JSON.stringify(v))) },
    { weight: 4, arbitrary: fc.tuple(valid, fc.option(fc.constantFrom(...fieldNames(doc, schema), 'unknown_field', '__proto__'), { nil: undefined }), nastyJsonText)
      .map(([value, field, nasty]) => Buffer.from(setField(value, field, nasty))) },
    { weight: 2, arbitrary: nastyJsonText.map((t) => Buffer.from(t)) },
    { weight: 1, arbitrary: fc.tuple(valid, deepJsonText).map(([value, deep]) => Buffer.from(setField(value, 'request_args', `{"deep":${deep}}`))) },
    { weight: 1, arbitrary: brokenBody },
  );
}

/** The check body's credentials are the customer's, most of the time, so that the call gets to the limits. */
function withCredentials(value: unknown, ctx: FuzzContext): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !('usage_type' in value)) return value;
  if ('key' in value) return { ...value, key: ctx.customerKey };
  if ('app_key' in value) return { ...value, app_id: ctx.customerAppId, app_key: ctx.customerKey };
  return value;
}

function fieldNames(doc: OpenApiDocument, schema: Schema | undefined): string[] {
  const resolved = typeof schema?.$ref === 'string' ? doc.components.schemas[schema.$ref.replace(/^#\/components\/schemas\//, '')] : schema;
  const names = Object.keys(resolved?.properties ?? resolved?.items?.properties ?? {});
  return names.length > 0 ? names : ['value'];
}

/** The JSON text of `value` with `field` set to raw JSON text (kept as text so that 1e400 or -0 survive). */
function setField(value: unknown, field: string | undefined, text: string): string {
  if (field === undefined) return text;
  if (Array.isArray(value)) return `[${[...value.map((v) => setField(v, field, text)), text].join(',')}]`;
  if (value === null || typeof value !== 'object') return `{${JSON.stringify(field)}:${text}}`;
  const rest = Object.entries(value).filter(([k]) => k !== field).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `{${[...rest, `${JSON.stringify(field)}:${text}`].join(',')}}`;
}

/** A query parameter's value: from its schema, or dates, numbers and strings that are wrong. */
function queryValue(doc: OpenApiDocument, name: string, schema: Schema | undefined): fc.Arbitrary<string> {
  const good = fromSchema(doc, schema).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  const bad = name.endsWith('_date') || name === 'from' || name === 'to' ? nastyDate
    : name === 'limit' ? nastyNumberText
      : name === 'tz' ? fc.oneof(fc.constantFrom('UTC', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York', 'Etc/GMT+14', 'Pacific/Kiritimati', 'utc', 'Mars/Olympus', 'UTC+5', '+05:30', 'Z', 'local', 'system'), nastyString)
        : nastyString;
  return fc.oneof({ weight: 3, arbitrary: good }, { weight: 2, arbitrary: bad });
}

/** Known-good date ranges, very wide ones, and backwards ones, for the usage queries. */
const DAY = 86_400_000;
const dateRange: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
  // Anywhere in the years served, mostly short (a query of thousands of periods costs the server a tenth of a second or more, so those are fewer).
  { weight: 10, arbitrary: fc.tuple(fc.date({ min: new Date('1970-01-01'), max: new Date('9999-01-01'), noInvalidDate: true }), fc.integer({ min: -40 * DAY, max: 400 * DAY }))
    .map(([a, length]): Array<[string, string]> => [['from_date', a.toISOString()], ['to_date', new Date(a.getTime() + length).toISOString()]]) },
  { weight: 1, arbitrary: fc.constantFrom<Array<[string, string]>>(
    [['from_date', '1970-01-01T00:00:00Z'], ['to_date', '9999-12-31T23:59:59Z'], ['timespan', 'hour']],
    [['from_date', '1970-01-01'], ['to_date', '9999-12-31'], ['timespan', 'day']],
    [['from_date', '1970-01-01'], ['to_date', '9999-12-31'], ['timespan', 'year']],
    [['from_date', '2026-02-01'], ['to_date', '2026-01-01']],
    [['from_date', '2026-01-01T00:00:00Z'], ['to_date', '2026-01-01T00:00:00Z']],
    [['from_date', '2026-03-08T02:30:00'], ['to_date', '2026-11-01T01:30:00'], ['tz', 'America/New_York'], ['timespan', 'hour']],
  ) },
);

/** Every credential form an operation's security accepts, with the right values most of the time. */
function credentials(op: Operation, ctx: FuzzContext): fc.Arbitrary<Array<[string, string]>> {
  const schemes = new Set((op.security ?? []).flatMap((s) => Object.keys(s)));
  if (schemes.size === 0) return fc.constant([]);
  const wrong = fc.oneof(fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `bearer ${ctx.adminToken}`, `Bearer ${ctx.adminToken} extra`, `Bearer ${ctx.adminToken}x`, `Bearer  ${ctx.adminToken}`, 'Bearer tg_wrong'),
    fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 }).map((s) => `Bearer ${s}`));
  const options: Array<fc.WeightedArbitrary<Array<[string, string]>>> = [
    { weight: 1, arbitrary: fc.constant([]) },
  ];
  if (schemes.has('bearer')) {
    options.push({ weight: 16, arbitrary: fc.constant([['authorization', `Bearer ${ctx.adminToken}`]]) });
    options.push({ weight: 2, arbitrary: wrong.map((v) => [['authorization', v]]) });
    options.push({ weight: 1, arbitrary: fc.constant([['authorization', 'Bearer nope'], ['authorization', `Bearer ${ctx.adminToken}`]]) });
  }
  if (schemes.has('api_key') || schemes.has('app_key')) {
    options.push({ weight: 8, arbitrary: fc.constant([['x-api-key', ctx.customerKey]]) });
    options.push({ weight: 8, arbitrary: fc.constant([['app_id', ctx.customerAppId], ['app_key', ctx.customerKey]]) });
    options.push({ weight: 2, arbitrary: fc.tuple(fc.constantFrom('x-api-key', 'app_key', 'app_id'), fc.oneof(fc.constant(ctx.customerKey), nastyString.filter((s) => /^[\x20-\x7e]*$/.test(s))))
      .map(([name, value]): Array<[string, string]> => [[name, value], ['app_id', ctx.customerAppId]]) });
    options.push({ weight: 1, arbitrary: fc.constant([['x-api-key', ctx.customerKey], ['x-api-key', ctx.customerKey]]) });
  }
  return fc.oneof(...options);
}

/** Requests for one documented operation. */
export function operationRequests(doc: OpenApiDocument, path: string, method: string, op: Operation, ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const pathNames = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const pathArb = fc.tuple(...pathNames.map((name) => segment(ctx.ids[name] ?? [])))
    .map((values) => values.reduce((p, v, i) => p.replace(`{${pathNames[i]}}`, v), path));
  const queryParams = (op.parameters ?? []).filter((p) => p.in === 'query');
  const one = queryParams.length === 0
    ? fc.constant<Array<[string, string]>>([])
    : fc.tuple(...queryParams.map((p) => fc.option(queryValue(doc, p.name, p.schema).map((v): [string, string] => [p.name, v]), { nil: undefined, freq: 2 })))
      .map((pairs) => pairs.filter((pair) => pair !== undefined));
  const queryArb: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
    { weight: 6, arbitrary: one },
    // The same parameter twice, unknown parameters, and (for the usage queries) date ranges of every kind.
    { weight: 1, arbitrary: fc.tuple(one, one).map(([a, b]) => [...a, ...b]) },
    { weight: 1, arbitrary: fc.tuple(one, fc.array(fc.tuple(nastyString, nastyString), { maxLength: 2 })).map(([a, b]) => [...a, ...b]) },
    ...(queryParams.some((p) => p.name === 'from_date') ? [{ weight: 3, arbitrary: fc.tuple(dateRange, one).map(([a, b]) => [...a, ...b]) }] : []),
  );
  const content = Object.entries(op.requestBody?.content ?? {});
  const bodyArb: fc.Arbitrary<{ type: string | null; body: Buffer | undefined }> = content.length === 0
    ? fc.oneof({ weight: 9, arbitrary: fc.constant({ type: null, body: undefined }) }, { weight: 1, arbitrary: fc.tuple(oddContentType, brokenBody).map(([type, body]) => ({ type, body })) })
    : fc.oneof(
      ...content.map(([type, media]) => ({ weight: Math.round(120 / content.length), arbitrary: bodyText(doc, media.schema, ctx).map((body) => ({ type, body })) })),
      { weight: 20, arbitrary: fc.tuple(oddContentType, fc.oneof(brokenBody, nastyJsonText.map((t) => Buffer.from(t)))).map(([type, body]) => ({ type, body })) },
      { weight: 10, arbitrary: fc.constant({ type: null, body: Buffer.from('{}') }) },
      { weight: 10, arbitrary: fc.constant({ type: 'application/json', body: undefined }) },
      // Over the body limit (1 MiB here; event batches may be larger, so they are left to their own test).
      ...(path === '/v1/events' ? [] : [{ weight: 1, arbitrary: fc.integer({ min: 1024 * 1024 + 1, max: 2 * 1024 * 1024 }).map((n) => ({ type: 'application/json', body: Buffer.from(`{"a":"${'x'.repeat(n)}"}`) })) }]),
    );
  return fc.record({ path: pathArb, query: queryArb, auth: credentials(op, ctx), extra: extraHeaders, body: bodyArb }).map(({ path: p, query, auth, extra, body }) => {
    const search = query.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
    const headers: Array<[string, string]> = [...auth, ...extra];
    if (body.type !== null) headers.push(['content-type', body.type]);
    const request: FuzzRequest = {
      operation: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      path: search === '' ? p : `${p}?${search}`,
      headers,
      ...(body.body === undefined ? {} : { body: body.body }),
    };
    // A body over the limit is answered before it is read, and the connection closed: on a socket of its own, the answer is read even if the rest of the body is refused.
    return (body.body?.length ?? 0) > 1024 * 1024 ? { ...request, raw: toRaw(request) } : request;
  });
}

function toRaw(request: FuzzRequest): Buffer {
  const head = [`${request.method} ${request.path} HTTP/1.1`, 'host: 127.0.0.1', ...request.headers.map(([k, v]) => `${k}: ${v}`), `content-length: ${request.body?.length ?? 0}`];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), request.body ?? Buffer.alloc(0)]);
}

/**
 * Requests only a raw socket can send: control characters and non-ASCII in
 * headers, duplicate or conflicting Content-Length and Transfer-Encoding,
 * broken request lines and chunked encodings, invalid percent escapes.
 */
export function rawRequests(ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const target = fc.constantFrom('/v1/check', '/v1/usage', '/v3/ocr-usage', '/admin/plans', '/healthz', '/v1/events');
  const auth = fc.constantFrom(`authorization: Bearer ${ctx.adminToken}`, `x-api-key: ${ctx.customerKey}`);
  const headerValue = fc.oneof(
    fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
    fc.constantFrom('\u0000', '\t', 'a\rb', 'é', '\u00ff\u00fe', ' leading', 'trailing '),
  );
  const lines: fc.Arbitrary<string> = fc.oneof(
    fc.tuple(target, auth, headerValue).map(([t, a, v]) => `GET ${t} HTTP/1.1\r\nhost: x\r\n${a}\r\nx-request-id: ${v}\r\n\r\n`),
    fc.tuple(target, headerValue).map(([t, v]) => `GET ${t} HTTP/1.1\r\nhost: x\r\nx-api-key: ${v}\r\napp_id: ${v}\r\napp_key: ${v}\r\n\r\n`),
    fc.tuple(target, headerValue).map(([t, v]) => `POST ${t} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${v}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`),
    fc.tuple(target, auth).map(([t, a]) => `POST ${t} HTTP/1.1\r\nhost: x\r\n${a}\r\ncontent-type: application/json\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}`),
    fc.tuple(target, auth).map(([t, a]) => `POST ${t} HTTP/1.1\r\nhost: x\r\n${a}\r\ncontent-type: application/json\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n{}`),
    fc.tuple(target, auth).map(([t, a]) => `POST ${t} HTTP/1.1\r\nhost: x\r\n${a}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`),
    fc.tuple(target, auth).map(([t, a]) => `POST ${t} HTTP/1.1\r\nhost: x\r\n${a}\r\ncontent-type: application/json\r\ncontent-length: -1\r\n\r\n{}`),
    fc.tuple(target, auth).map(([t, a]) => `POST ${t} HTTP/1.1\r\nhost: x\r\n${a}\r\ncontent-type: application/json\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n{}`),
    fc.tuple(target, fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%FF', '/%2e%2e/admin/plans', '?a=%')).map(([t, bad]) => `GET ${t}${bad} HTTP/1.1\r\nhost: x\r\n\r\n`),
    fc.constantFrom('GET /healthz HTTP/1.1\r\n\r\n', 'GET /healthz HTTP/1.0\r\n\r\n', 'GET /healthz HTTP/2.0\r\nhost: x\r\n\r\n', 'get /healthz HTTP/1.1\r\nhost: x\r\n\r\n',
      'BREW /healthz HTTP/1.1\r\nhost: x\r\n\r\n', 'GET healthz HTTP/1.1\r\nhost: x\r\n\r\n', 'GET * HTTP/1.1\r\nhost: x\r\n\r\n', 'GET http://x/healthz HTTP/1.1\r\nhost: x\r\n\r\n',
      'GET /healthz HTTP/1.1\nhost: x\n\n', 'GET /healthz\r\n\r\n', 'GET /healthz HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n', 'GET /healthz HTTP/1.1\r\nhost: x\r\n: empty\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nhost: x\r\nx-folded: a\r\n b\r\n\r\n', 'OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n', 'TRACE /healthz HTTP/1.1\r\nhost: x\r\n\r\n', 'CONNECT x:80 HTTP/1.1\r\nhost: x\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n', 'GET /v1/usage HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n',
      'PUT /v1/check HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n', 'POST /v1/check HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}',
      'POST /v1/check HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\ncontent-length: 0\r\n\r\n', 'DELETE /v1/usage HTTP/1.1\r\nhost: x\r\n\r\n', 'PATCH /healthz HTTP/1.1\r\nhost: x\r\n\r\n'),
    fc.integer({ min: 17_000, max: 40_000 }).map((n) => `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(n)}\r\n\r\n`),
    fc.integer({ min: 17_000, max: 40_000 }).map((n) => `GET /v3/ocr-usage?from_date=${'9'.repeat(n)} HTTP/1.1\r\nhost: x\r\n\r\n`),
  );
  const complete = lines.map((text) => ({ text, halfClose: false }));
  // A body shorter than its Content-Length, and a request line cut short, then the end of the connection.
  const incomplete = fc.tuple(target, auth, fc.constantFrom('{}', '')).map(([t, a, body]) => ({
    text: `POST ${t} HTTP/1.1\r\nhost: x\r\n${a}\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n${body}`, halfClose: true,
  }));
  const cut = fc.constantFrom('GET /heal', 'GET /healthz HTTP/1.1\r\nhost: x', 'POST /v1/check HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{}').map((text) => ({ text, halfClose: true }));
  return fc.oneof({ weight: 8, arbitrary: complete }, { weight: 1, arbitrary: incomplete }, { weight: 1, arbitrary: cut }).map(({ text, halfClose }) => ({
    operation: 'raw', method: text.split(' ')[0] ?? '', path: '', headers: [], raw: Buffer.from(text, 'latin1'), halfClose,
  }));
}
