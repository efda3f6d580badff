import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloudEvent, emitterFor, HTTP, httpTransport, Mode, type Message } from 'cloudevents';
import { ManualClock } from '../../src/clock.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  // Events are built and sent by the CloudEvents SDK itself (npm `cloudevents`), over real HTTP, in
  // each of its content modes; what counts is what the usage API then reports.

  const NOW = Date.parse('2026-03-15T12:00:00Z');
  const clock = new ManualClock(NOW);
  const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };
  let server: TestServer;
  let c: Awaited<ReturnType<typeof setupCustomer>>;

  before(async () => {
    server = await startTestServer({ store, clock });
    c = await setupCustomer(adminClient(server.url));
  });
  after(async () => server.close());

  /** A usage event as an integrator builds it with the SDK: the usage type, the app as subject, the time it happened. */
  const usageEvent = (type: string, data: unknown, more: Record<string, unknown> = {}) =>
    new CloudEvent({ source: 'converter', type, subject: c.appId, time: new Date(NOW - 3_600_000).toISOString(), data, ...more });

  /** The SDK's emitter over its own HTTP transport, with the token; resolves with the answer's body. */
  async function emit(mode: Mode, event: CloudEvent<unknown>): Promise<any> {
    const answer = await emitterFor(httpTransport(`${server.url}/v1/events`), { mode })(event, { headers: AUTH }) as { body: string };
    return JSON.parse(answer.body);
  }

  /** An SDK message (`HTTP.structured(event)` or `HTTP.binary(event)`) sent as it is, for its status. */
  async function send(message: Message): Promise<{ status: number; body: any }> {
    const res = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { ...message.headers as Record<string, string>, ...AUTH }, body: message.body as string });
    return { status: res.status, body: await res.json() };
  }

  /** Units counted for one usage type this month, as the customer's usage API reports them. */
  async function counted(usageType: string): Promise<number> {
    const usage = await request(`${server.url}/v3/ocr-usage?group_by=usage_type&timespan=month`, { headers: { 'x-api-key': c.key } });
    return usage.body.ocr_usage.filter((r: any) => r.usage_type === usageType).reduce((sum: number, r: any) => sum + r.count, 0);
  }

  describe('CloudEvents from the SDK: one event, structured or binary', () => {
    test('HTTP.structured (application/cloudevents+json) and HTTP.binary (ce-* headers, JSON data as the body) are both counted', async () => {
      assert.deepEqual(await emit(Mode.STRUCTURED, usageEvent('ce-structured', { count: 3 })), { accepted: 1, duplicates: 0, rejected: [] });
      assert.deepEqual(await emit(Mode.BINARY, usageEvent('ce-binary', { count: 4, request_args: { lang: 'en' } })), { accepted: 1, duplicates: 0, rejected: [] });
      assert.equal(await counted('ce-structured'), 3);
      assert.equal(await counted('ce-binary'), 4);
      const structured = await send(HTTP.structured(usageEvent('ce-structured', { count: 1 })));
      assert.equal(structured.status, 200);
      assert.equal((await send(HTTP.binary(usageEvent('ce-binary', { count: 1 })))).status, 200);
    });

    test('one event is one identity, its source and id, whichever mode carried it', async () => {
      const event = usageEvent('ce-once', { count: 2 });
      assert.deepEqual(await emit(Mode.STRUCTURED, event), { accepted: 1, duplicates: 0, rejected: [] });
      assert.deepEqual(await emit(Mode.BINARY, event), { accepted: 0, duplicates: 1, rejected: [] });
      const batch = await request(`${server.url}/v1/events`, {
        method: 'POST', headers: { ...AUTH, 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify([event.toJSON()]),
      });
      assert.deepEqual(batch.body, { accepted: 0, duplicates: 1, rejected: [] });
      assert.equal(await counted('ce-once'), 2);
    });

    test('data_base64 (the SDK writes binary data so) is decoded: base64 of JSON data counts as that data', async () => {
      const data = () => Buffer.from(JSON.stringify({ count: 5 }));
      const structured = HTTP.structured(usageEvent('ce-base64', data()));
      assert.match(String(structured.body), /"data_base64":"eyJjb3VudCI6NX0="/, 'the SDK sends data_base64');
      assert.deepEqual((await send(structured)).body, { accepted: 1, duplicates: 0, rejected: [] });
      assert.deepEqual(await emit(Mode.BINARY, usageEvent('ce-base64', data())), { accepted: 1, duplicates: 0, rejected: [] });
      assert.equal(await counted('ce-base64'), 10, 'five units each, not one');
    });

    test('a refused event is a refused request: 400, its reason named; nothing counted', async () => {
      const both = (event: CloudEvent<unknown>) => [HTTP.structured(event), HTTP.binary(event)];
      for (const [messages, reason] of [
        [both(usageEvent('ce-refused', { count: 1 }, { specversion: '0.3' })), /^The event was refused \(unsupported_specversion\): "specversion" is "0.3": Tollgate reads CloudEvents 1.0/],
        [both(usageEvent('ce-refused', { count: 1 }, { subject: 'no-such-app' })), /^The event was refused \(unknown_app\): No app with id "no-such-app"\.$/],
        [both(usageEvent('ce-refused', { count: 0 })), /^The event was refused \(invalid_count\)/],
        // Only structured mode has data_base64 (binary mode sends the bytes themselves as the body).
        [[HTTP.structured(usageEvent('ce-refused', Buffer.from('not json')))], /^The event was refused \(invalid_data\): "data_base64" does not decode to JSON\.$/],
      ] as const) {
        for (const message of messages) {
          const res = await send(message);
          assert.equal(res.status, 400, JSON.stringify(res.body));
          assert.equal(res.body.error, 'invalid_request');
          assert.match(res.body.message, reason);
        }
      }
      assert.equal(await counted('ce-refused'), 0);
    });

    test('NUL (U+0000), which PostgreSQL cannot store, in the id or the source: 400 on both stores, in either mode', async () => {
      for (const [more, field] of [[{ id: 'evt\u00001' }, 'id'], [{ source: 'conv\u0000erter' }, 'source']] as const) {
        // By hand: the SDK refuses such a source itself. In binary mode, a header cannot hold NUL but its percent-encoding (%00) is decoded.
        const event = usageEvent('ce-nul', { count: 1 });
        const structured = { headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify({ ...event.toJSON(), ...more }) };
        const binary = HTTP.binary(event);
        const headers = { ...binary.headers as Record<string, string>, [`ce-${field}`]: Object.values(more)[0].replace('\u0000', '%00') };
        for (const message of [structured, { headers, body: binary.body }]) {
          const res = await send(message);
          assert.equal(res.status, 400, JSON.stringify(res.body));
          assert.deepEqual(res.body, { error: 'invalid_request', message: `The event was refused (invalid_event): "${field}" must not contain the NUL character (U+0000).` });
        }
      }
      assert.equal(await counted('ce-nul'), 0);
    });

    test('binary mode with data that is not JSON: 400 for JSON that is not an object, 415 for another content type, naming those taken', async () => {
      const notObject = await send({ headers: { ...HTTP.binary(usageEvent('ce-odd', null)).headers, 'content-type': 'application/json' }, body: '[1, 2]' });
      assert.equal(notObject.status, 400);
      assert.match(notObject.body.message, /\(invalid_data\): The event's data must be a JSON object/);
      const text = await send({ headers: { ...HTTP.binary(usageEvent('ce-odd', 'three')).headers, 'content-type': 'text/csv' }, body: 'count\n3' });
      assert.equal(text.status, 415);
      assert.deepEqual(text.body, {
        error: 'unsupported_media_type',
        message: 'Content-Type "text/csv" is not accepted here; send application/json, application/cloudevents-batch+json, application/cloudevents+json or application/x-ndjson.',
      });
    });
  });

  describe('CloudEvents batches: specversion and data_base64, event by event', () => {
    test('each event is read alone: another specversion, or data_base64 that is not JSON data, is refused with its reason', async () => {
      const base = { source: 'batch', type: 'ce-batch', subject: c.appId, time: new Date(NOW).toISOString() };
      const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
      const res = await request(`${server.url}/v1/events`, {
        method: 'POST', headers: { ...AUTH, 'content-type': 'application/cloudevents-batch+json' },
        body: JSON.stringify([
          { ...base, specversion: '1.0', id: 'b-1', data_base64: json({ count: 7 }) },
          { ...base, specversion: '1.0', id: 'b-2', datacontenttype: 'application/json', data_base64: json({ count: 2 }) },
          { ...base, specversion: '0.3', id: 'b-3', data: { count: 1 } },
          { ...base, id: 'b-4', data: { count: 1 } },
          { ...base, specversion: '1.0', id: 'b-5', datacontenttype: 'text/plain', data_base64: Buffer.from('7').toString('base64') },
          { ...base, specversion: '1.0', id: 'b-6', data_base64: 'not base64!' },
          { ...base, specversion: '1.0', id: 'b-7', data: { count: 1 }, data_base64: json({ count: 1 }) },
          { ...base, specversion: '1.0', id: 'b-8', data_base64: json([1]) },
        ]),
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.accepted, 2);
      assert.deepEqual(res.body.rejected.map((r: any) => [r.index, r.id, r.error]), [
        [2, 'b-3', 'unsupported_specversion'], [3, 'b-4', 'unsupported_specversion'], [4, 'b-5', 'invalid_data'],
        [5, 'b-6', 'invalid_data'], [6, 'b-7', 'invalid_data'], [7, 'b-8', 'invalid_data'],
      ]);
      assert.match(res.body.rejected[1].message, /"specversion" is missing/);
      assert.match(res.body.rejected[2].message, /"data_base64" holds "text\/plain" data: Tollgate reads JSON data/);
      assert.match(res.body.rejected[4].message, /"data" or "data_base64", not both/);
      assert.equal(await counted('ce-batch'), 9);
    });
  });
});
