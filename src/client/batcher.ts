import { systemScheduler, type Cancel, type Scheduler } from '../scheduler.js';
import type { TollgateError } from './errors.js';
import { MAX_EVENTS_PER_REQUEST, withId } from './event-id.js';
import type { EventRejection, IngestReport, UsageEvent } from './types.js';

export interface BatcherOptions {
  /** Events per request; a full batch is sent at once. Default 1000, at most 10,000. */
  maxBatch?: number;
  /** Events wait at most this long before being sent. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Retries of a failed batch (network errors, 429, 5xx), with backoff. Default: the client's. */
  maxRetries?: number;
  /**
   * A batch that could not be delivered after its retries, or that Tollgate
   * refused whole (a bad token): the events are handed back, to keep or
   * enqueue again (their ids make a later resend safe). Default: a process warning.
   */
  onError?: (error: TollgateError, events: Array<UsageEvent & { id: string }>) => void;
  /** Events Tollgate refused one by one (`unknown_app`, `invalid_count`…), with the batch they came in. */
  onRejected?: (rejections: EventRejection[], events: Array<UsageEvent & { id: string }>) => void;
  /**
   * What the wait before a partial batch is sent runs on. Default: Node's
   * timers, holding the process open while events wait to be sent; a test
   * passes a `ManualScheduler` to send them when it advances its clock.
   */
  scheduler?: Scheduler;
}

type Send = (events: Array<UsageEvent & { id: string }>, retries: number | undefined) => Promise<IngestReport>;

/** What a flush did: Tollgate's report on the events it sent, and how many could not be delivered. */
export interface FlushReport extends IngestReport {
  failed: number;
}

/** Counts over a batcher's life: events accepted, duplicates, refused one by one, and not delivered. */
export interface BatcherTotals {
  accepted: number;
  duplicates: number;
  rejected: number;
  failed: number;
}

/**
 * Gathers usage events and sends them in batches, one request at a time, in
 * order. An event without an id gets a random one (`crypto.randomUUID()`)
 * when it is enqueued, so that however often a batch is retried, Tollgate
 * counts each event once.
 *
 * @example
 * const batcher = tollgate.events.batcher({ maxBatch: 1000, flushIntervalMs: 1000 });
 * batcher.enqueue({ appId: 'acme-ocr', usageType: 'pdf', count: pages });
 * // at shutdown:
 * await batcher.close();
 */
export class EventBatcher {
  private buffer: Array<UsageEvent & { id: string }> = [];
  /** Cancels the scheduled send of a partial batch; set only while events wait. */
  private timer: Cancel | null = null;
  /** The batches in flight, in order: each send waits for the one before. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly counts: BatcherTotals = { accepted: 0, duplicates: 0, rejected: 0, failed: 0 };
  private readonly maxBatch: number;
  private readonly flushIntervalMs: number;
  private readonly scheduler: Scheduler;

  constructor(private readonly send: Send, private readonly options: BatcherOptions = {}) {
    this.maxBatch = Math.min(options.maxBatch ?? 1000, MAX_EVENTS_PER_REQUEST);
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    // Held open: events waiting to be sent are not dropped because the rest of the process is done.
    this.scheduler = options.scheduler ?? systemScheduler(undefined, { keepAlive: true });
    if (!(this.maxBatch >= 1)) throw new RangeError('maxBatch must be 1 or more.');
  }

  /** What happened to the events sent so far. */
  get totals(): BatcherTotals {
    return { ...this.counts };
  }

  /** Events waiting to be sent. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Adds an event to the next batch and returns its id. */
  enqueue(event: UsageEvent): string {
    if (this.closed) throw new Error('This EventBatcher is closed.');
    const identified = withId(event);
    this.buffer.push(identified);
    if (this.buffer.length >= this.maxBatch) {
      this.flush().catch(() => undefined);
    } else {
      // The timer runs only while events wait, so an idle batcher keeps no process alive.
      this.timer ??= this.scheduler.after(this.flushIntervalMs, () => this.flush().catch(() => undefined));
    }
    return identified.id;
  }

  /** Sends everything enqueued so far; resolves once it is delivered or handed to `onError`. */
  flush(): Promise<FlushReport> {
    // A full batch is sent as soon as it fills, so what waits is never more than one batch.
    const events = this.buffer.splice(0);
    this.timer?.();
    this.timer = null;
    const done = this.queue.then(() => (events.length === 0 ? { accepted: 0, duplicates: 0, rejected: [], failed: 0 } : this.sendBatch(events)));
    // Only a throwing onError can make a flush fail; the next batches are sent all the same.
    this.queue = done.catch(() => undefined);
    return done;
  }

  /** Refuses new events, sends what is left, and resolves with the totals over the batcher's life. */
  async close(): Promise<BatcherTotals> {
    this.closed = true;
    await this.flush();
    return this.totals;
  }

  private async sendBatch(batch: Array<UsageEvent & { id: string }>): Promise<FlushReport> {
    try {
      const report = await this.send(batch, this.options.maxRetries);
      this.counts.accepted += report.accepted;
      this.counts.duplicates += report.duplicates;
      this.counts.rejected += report.rejected.length;
      if (report.rejected.length > 0) this.options.onRejected?.(report.rejected, batch);
      return { ...report, failed: 0 };
    } catch (error) {
      this.counts.failed += batch.length;
      const onError = this.options.onError
        ?? ((e: TollgateError, lost: unknown[]) => process.emitWarning(`Tollgate: ${lost.length} usage events not delivered: ${e.message}`));
      onError(error as TollgateError, batch);
      return { accepted: 0, duplicates: 0, rejected: [], failed: batch.length };
    }
  }
}
