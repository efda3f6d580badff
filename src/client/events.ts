import { EventBatcher, type BatcherOptions } from './batcher.js';
import { withId } from './event-id.js';
import type { HttpClient } from './http.js';
import type { IngestReport, UsageEvent } from './types.js';
import { fromWire, toWire } from './wire.js';

/**
 * Event ingest (`POST /v1/events`): usage that was already served, sent
 * afterwards. Every event carries an id (the SDK assigns one when absent),
 * so a retried request is counted once.
 *
 * @example
 * const report = await tollgate.events.send([{ appId: 'acme-ocr', usageType: 'pdf', count: 12 }]);
 * // { accepted: 1, duplicates: 0, rejected: [] }
 */
export class EventsApi {
  constructor(private readonly http: HttpClient) {}

  /** Sends up to 10,000 events in one request; `rejected` lists those refused, by index. */
  async send(events: readonly UsageEvent[], options: { retries?: number } = {}): Promise<IngestReport> {
    const response = await this.http.request<unknown>({
      method: 'POST', path: '/v1/events', body: events.map((e) => toWire(withId(e))), idempotent: true,
      ...(options.retries === undefined ? {} : { retries: options.retries }),
    });
    return fromWire(response.body) as IngestReport;
  }

  /**
   * A batcher: `enqueue` events as they are served, and they are sent in
   * batches of `maxBatch`, or every `flushIntervalMs`, whichever comes first.
   * Call `close()` before the process exits.
   */
  batcher(options: BatcherOptions = {}): EventBatcher {
    return new EventBatcher((events, retries) => this.send(events, { retries }), options);
  }
}
