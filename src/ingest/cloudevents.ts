import type { NormalisedEvent, Refusal } from './normalised-event.js';

/**
 * CloudEvents 1.0 as Tollgate reads them: `type` is the usage type,
 * `subject` the app, `time` when the usage happened, and `data` a JSON object
 * with `count` and the call's arguments (`request_args` or
 * `request_args_hash`). Events are deduplicated on `source` and `id`, as the
 * specification defines an event's identity (and as OpenMeter does).
 *
 * They arrive in the three content modes of the HTTP binding: structured
 * (`application/cloudevents+json`, one event), batched
 * (`application/cloudevents-batch+json`, an array) and binary (the attributes
 * in `ce-*` headers, the data as the body); the route turns each into the
 * event objects read here.
 */
export const SPEC_VERSION = '1.0';

/** The attributes binary mode carries in `ce-<name>` headers that Tollgate reads. */
const BINARY_ATTRIBUTES = ['specversion', 'id', 'source', 'type', 'subject', 'time'] as const;

/**
 * A binary-mode event (HTTP binding, 3.1) as the object structured mode would
 * have carried: its attributes from the `ce-*` headers (percent-decoded, as
 * the binding encodes them), its data the parsed body; the body's content
 * type is its `datacontenttype`. A header that cannot be decoded is kept as
 * it came, and the event is then refused for what it says.
 */
export function binaryModeEvent(headers: Record<string, string | string[] | undefined>, body: unknown): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const name of BINARY_ATTRIBUTES) {
    const value = headers[`ce-${name}`];
    if (typeof value === 'string') event[name] = percentDecoded(value);
  }
  if (body !== undefined) event.data = body;
  return event;
}

/** Whether a request carries a binary-mode event: a `ce-specversion` header. */
export function isBinaryMode(headers: Record<string, unknown>): boolean {
  return headers['ce-specversion'] !== undefined;
}

/** One CloudEvent reduced to what Tollgate counts, or why it is refused. `e.id` is already checked. */
export function normaliseCloudEvent(e: Record<string, unknown> & { id: string }): NormalisedEvent | Refusal {
  if (e.specversion !== SPEC_VERSION) {
    const given = e.specversion === undefined ? 'is missing' : `is ${JSON.stringify(e.specversion)}`;
    return { error: 'unsupported_specversion', message: `"specversion" ${given}: Tollgate reads CloudEvents ${SPEC_VERSION} ("specversion": "${SPEC_VERSION}").` };
  }
  if (typeof e.source !== 'string' || e.source.length === 0) return { error: 'invalid_event', message: '"source" must be a non-empty string.' };
  if (e.source.includes('\u0000')) return { error: 'invalid_event', message: '"source" must not contain the NUL character (U+0000).' };
  const read = eventData(e);
  if ('error' in read) return read;
  const { data } = read;
  return {
    dedupKey: cloudEventDedupKey(e.source, e.id), id: e.id, appId: e.subject, usageType: e.type, count: data.count ?? 1,
    timestamp: e.time, requestArgs: data.request_args, requestArgsHash: data.request_args_hash,
  };
}

/**
 * The key an event is deduplicated on: its source and id, as `ce:`, the
 * source's length in UTF-8 bytes, `:`, the source, then the id. The length
 * keeps any source and id apart without a separator character (NUL was
 * one, and PostgreSQL cannot store it); the embedded store's older keys are
 * rewritten so by a migration of its schema (src/store/sqlite/schema.ts).
 */
export function cloudEventDedupKey(source: string, id: string): string {
  return `ce:${Buffer.byteLength(source, 'utf8')}:${source}${id}`;
}

/**
 * The event's data as a JSON object: `data` itself, or `data_base64` decoded,
 * when its content type is JSON (none given means JSON), as the JSON event
 * format carries binary data: the same usage whichever way it was written.
 */
function eventData(e: Record<string, unknown>): { data: Record<string, unknown> } | Refusal {
  if (e.data !== undefined && e.data_base64 !== undefined) return invalidData('An event carries "data" or "data_base64", not both.');
  let data = e.data;
  if (e.data_base64 !== undefined) {
    if (typeof e.data_base64 !== 'string' || !BASE64.test(e.data_base64)) return invalidData('"data_base64" must be a base64 string.');
    if (e.datacontenttype !== undefined && !isJsonType(e.datacontenttype)) {
      return invalidData(`"data_base64" holds ${JSON.stringify(e.datacontenttype)} data: Tollgate reads JSON data ("datacontenttype" application/json, or none).`);
    }
    try {
      data = JSON.parse(Buffer.from(e.data_base64, 'base64').toString('utf8'));
    } catch {
      return invalidData('"data_base64" does not decode to JSON.');
    }
  }
  if (data === undefined || data === null) return { data: {} };
  if (typeof data !== 'object' || Array.isArray(data)) return invalidData('The event\'s data must be a JSON object (with "count" and the call\'s arguments).');
  return { data: data as Record<string, unknown> };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `application/json`, `text/json` or any `+json` type, parameters aside. */
function isJsonType(type: unknown): boolean {
  if (typeof type !== 'string') return false;
  const essence = type.split(';')[0]!.trim().toLowerCase();
  return essence === 'application/json' || essence === 'text/json' || essence.endsWith('+json');
}

function invalidData(message: string): Refusal {
  return { error: 'invalid_data', message };
}

function percentDecoded(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
