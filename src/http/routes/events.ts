import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { CloudEventSchema, EventSchema, IngestAnswer } from '../../contract/events.js';
import { ApiError } from '../../errors.js';
import { binaryModeEvent, isBinaryMode } from '../../ingest/cloudevents.js';
import { ingestBatch, type EventShape, type IngestReport } from '../../ingest/ingest-events.js';
import type { Services } from '../../services.js';
import { requireServiceCaller } from '../auth.js';
import { answer, errors } from '../answers.js';
import type { TypedApp } from '../typed-app.js';

/** Events per JSON batch; longer streams go as NDJSON. */
export const MAX_BATCH = 10_000;
/** NDJSON lines are recorded in chunks of this size, each durable before the next is read. */
const NDJSON_CHUNK = 5_000;
const MAX_LINE_BYTES = 64 * 1024;
/** A JSON batch of 10,000 events with their arguments fits easily. */
const JSON_BODY_LIMIT = 32 * 1024 * 1024;

/**
 * `POST /v1/events`: usage that was already served, in batches. The whole
 * request is durable before the answer, and every event gets a verdict.
 */
export function eventRoutes(app: TypedApp, services: Services): void {
  const deps = { store: services.store, windowMs: services.config.idempotencyWindowDays * 86_400_000, alerts: services.alerts };

  // An NDJSON body is read as a stream, a chunk at a time, never held whole.
  app.addContentTypeParser('application/x-ndjson', (_request, payload, done) => done(null, payload));
  for (const type of ['application/cloudevents-batch+json', 'application/cloudevents+json']) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: JSON_BODY_LIMIT }, app.getDefaultJsonParser('ignore', 'ignore'));
  }

  app.post('/v1/events', {
    onRequest: requireServiceCaller(services),
    bodyLimit: JSON_BODY_LIMIT,
    schema: {
      operationId: 'ingestEvents', tags: ['metering'],
      summary: 'Record usage that was already served: a JSON array (up to 10,000 events), NDJSON, or CloudEvents (a batch, one structured event, or one in binary mode)',
      description: 'A CloudEvent in binary mode carries its attributes in ce-specversion, ce-id, ce-source, ce-type, ce-subject and ce-time headers and its data as a JSON body (application/json). '
        + 'A single CloudEvent (structured or binary) that is refused is answered 400, its reason in the message; in a batch, each refused event is listed in "rejected".',
      security: [{ bearer: [] }],
      body: {
        content: {
          'application/json': { schema: Type.Array(EventSchema, { maxItems: MAX_BATCH }) },
          'application/cloudevents-batch+json': { schema: Type.Array(CloudEventSchema, { maxItems: MAX_BATCH }) },
          'application/cloudevents+json': { schema: CloudEventSchema },
          'application/x-ndjson': { schema: { description: 'One Tollgate event (as in application/json) per line; any length.' } },
        },
      },
      response: {
        200: answer("Every event's verdict: the accepted and duplicate ones counted, each rejected one with its reason. The whole request is durable before this answer.", IngestAnswer),
        ...errors(400, 401, 413, 415, 429, 503),
      },
    },
    // Per-event problems are reported per event, not as a 400 for the whole batch.
    validatorCompiler: () => () => true,
  }, async (request) => {
    const { report, single } = await ingestRequest(request.headers, request.body, services.clock.now());
    services.metrics.ingested('accepted', report.accepted);
    services.metrics.ingested('duplicate', report.duplicates);
    services.metrics.ingested('rejected', report.rejected.length);
    // One event is the whole request: refused, the request is (so a CloudEvents sender sees the failure).
    const [refused] = report.rejected;
    if (single && refused !== undefined) throw new ApiError('invalid_request', `The event was refused (${refused.error}): ${refused.message}`);
    return report;
  });

  /** What the request carries, by its content type (and `ce-*` headers), recorded; `single` when it is one CloudEvent. */
  async function ingestRequest(headers: FastifyRequest['headers'], body: unknown, now: number): Promise<{ report: IngestReport; single: boolean }> {
    const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/x-ndjson') return { report: await ingestNdjson(deps, body as Readable, now), single: false };
    if (type === 'application/cloudevents+json') return { report: await ingestBatch(deps, [body], 'cloudevents', now), single: true };
    if (isBinaryMode(headers)) return { report: await ingestBatch(deps, [binaryModeEvent(headers, body)], 'cloudevents', now), single: true };
    const shape: EventShape = type === 'application/cloudevents-batch+json' ? 'cloudevents' : 'tollgate';
    if (!Array.isArray(body)) throw new ApiError('invalid_request', 'The body must be a JSON array of events.');
    if (body.length > MAX_BATCH) {
      throw new ApiError('invalid_request', `A batch holds at most ${MAX_BATCH} events, this one has ${body.length}; send longer streams as application/x-ndjson.`);
    }
    return { report: await ingestBatch(deps, body, shape, now), single: false };
  }
}

async function ingestNdjson(deps: Parameters<typeof ingestBatch>[0], stream: Readable, now: number): Promise<IngestReport> {
  const report: IngestReport = { accepted: 0, duplicates: 0, rejected: [] };
  let events: unknown[] = [];
  let lines: number[] = [];
  const flush = async () => {
    const part = await ingestBatch(deps, events, 'tollgate', now, (i) => lines[i]!);
    report.accepted += part.accepted;
    report.duplicates += part.duplicates;
    report.rejected.push(...part.rejected);
    events = [];
    lines = [];
  };
  let line = -1;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line += 1;
    if (text.trim() === '') continue;
    if (text.length > MAX_LINE_BYTES) {
      report.rejected.push({ index: line, id: null, error: 'invalid_event', message: `Line ${line} is longer than ${MAX_LINE_BYTES} bytes.` });
      continue;
    }
    try {
      events.push(JSON.parse(text));
      lines.push(line);
    } catch {
      report.rejected.push({ index: line, id: null, error: 'invalid_event', message: `Line ${line} is not valid JSON.` });
      continue;
    }
    if (events.length === NDJSON_CHUNK) await flush();
  }
  if (events.length > 0) await flush();
  report.rejected.sort((a, b) => a.index - b.index);
  return report;
}
