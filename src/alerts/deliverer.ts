import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import type { Clock } from '../clock.js';
import type { Cancel, Scheduler } from '../scheduler.js';
import type { AlertStore } from '../store/store.js';
import type { AlertLog } from './alert-log.js';
import type { ClaimedDelivery, DeliveryAttempt, DeliveryNext } from '../domain/alerts.js';
import { signatureHeaders } from './signing.js';

/** How long a delivery is retried after it was created, before it is marked failed. */
export const RETRY_FOR_MS = 24 * 3_600_000;
/** The longest wait between two attempts. */
const MAX_BACKOFF_MS = 3_600_000;
/** A lease outlives its attempt by this much, so that a slow store write does not hand the delivery to another instance. */
const LEASE_MARGIN_MS = 60_000;
/** Attempts in flight at once, across all endpoints. */
const CONCURRENCY = 16;
/** How often the outbox is looked at for deliveries due (made by other instances, or retries). */
const POLL_MS = 1_000;

export interface DelivererOptions {
  store: AlertStore;
  clock: Clock;
  /** What the outbox poll and the retries run on. */
  scheduler: Scheduler;
  /** The endpoint's signing secret (derived, never stored). */
  signingSecret(endpointId: string): string;
  timeoutMs: number;
  retryBaseMs: number;
  log: AlertLog;
  /** Told each attempt's outcome (metrics). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

/** What became of one attempt: delivered, to be tried again, or given up on. */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed';

/**
 * Sends the outbox's deliveries, in the background: claims those due
 * (leased, so no other instance sends them meanwhile), POSTs each with its
 * signature, logs the attempt, and on failure schedules the next with
 * exponential backoff and jitter for up to 24 hours, then marks it failed.
 * Nothing here is on the path of a check: a receiver that hangs holds one
 * of these attempts until its timeout, and nothing else.
 */
export class WebhookDeliverer {
  private readonly agent: Agent;
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** The wake-ups scheduled for retries. */
  private readonly wakeUps = new Set<Cancel>();
  private poller: Cancel | null = null;
  private draining: Promise<void> | null = null;
  private again = false;

  constructor(private readonly options: DelivererOptions) {
    this.agent = new Agent({ connect: { timeout: options.timeoutMs } });
  }

  start(): void {
    this.poller = this.options.scheduler.every(POLL_MS, () => this.kick());
    this.kick();
  }

  /** Looks for deliveries due now (a new alert was recorded, or a retry is due). */
  kick(): void {
    if (this.stopping.signal.aborted) return;
    if (this.draining !== null) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((error: unknown) => this.options.log.warn({ err: error }, 'webhooks: cannot read the outbox'))
      .finally(() => {
        this.draining = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops claiming; attempts in flight are abandoned (their lease runs out, and they are sent again). */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.poller?.();
    for (const cancel of this.wakeUps) cancel();
    await this.draining;
    await Promise.allSettled([...this.inFlight]);
    await this.agent.close();
  }

  private async drain(): Promise<void> {
    for (;;) {
      const free = CONCURRENCY - this.inFlight.size;
      if (free <= 0 || this.stopping.signal.aborted) return;
      const now = this.options.clock.now();
      const claimed = await this.options.store.claimDeliveries(now, free, now + this.options.timeoutMs + LEASE_MARGIN_MS);
      for (const delivery of claimed) {
        const sending: Promise<void> = this.send(delivery)
          .catch((error: unknown) => this.options.log.warn({ err: error, delivery: delivery.id }, 'webhooks: cannot log an attempt'))
          .finally(() => {
            this.inFlight.delete(sending);
            this.kick();
          });
        this.inFlight.add(sending);
      }
      if (claimed.length < free) return;
    }
  }

  private async send(delivery: ClaimedDelivery): Promise<void> {
    const at = this.options.clock.now();
    const started = performance.now();
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Tollgate-Webhooks/0.1',
      'tollgate-delivery': delivery.id,
      ...signatureHeaders(this.options.signingSecret(delivery.endpointId), delivery.id, Math.floor(at / 1000), delivery.body),
    };
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const answer = await request(delivery.url, {
        method: 'POST', headers, body: delivery.body, dispatcher: this.agent,
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.stopping.signal]),
      });
      statusCode = answer.statusCode;
      await answer.body.dump();
      if (statusCode < 200 || statusCode > 299) error = `the receiver answered ${statusCode}`;
    } catch (failure) {
      if (this.stopping.signal.aborted) return;
      error = describeFailure(failure, this.options.timeoutMs);
    }
    const attempt = { at, durationMs: Math.round(performance.now() - started), statusCode, error };
    await this.conclude(delivery, attempt);
  }

  /**
   * Where an attempt's outcome is decided and recorded: delivered (a 2xx
   * answer), to be tried again later, or failed for good. The one place to
   * count delivery outcomes.
   */
  private async conclude(delivery: ClaimedDelivery, attempt: DeliveryAttempt): Promise<void> {
    const next: DeliveryNext = attempt.error === null ? { status: 'delivered' } : this.afterFailure(delivery, attempt.at);
    await this.options.store.finishAttempt(delivery.id, attempt, next);
    const context = { delivery: delivery.id, endpoint: delivery.endpointId, attempt: delivery.attempts + 1, status: attempt.statusCode, ms: attempt.durationMs };
    this.options.onOutcome?.(next.status === 'pending' ? 'retrying' : next.status);
    if (next.status === 'delivered') {
      this.options.log.debug(context, 'webhooks: delivered');
    } else if (next.status === 'failed') {
      this.options.log.warn({ ...context, error: attempt.error }, 'webhooks: delivery failed for good');
    } else {
      this.options.log.info({ ...context, error: attempt.error, retryAt: new Date(next.nextAttemptAt).toISOString() }, 'webhooks: attempt failed');
      this.wakeAt(next.nextAttemptAt);
    }
  }

  /** Exponential backoff with jitter (each wait between half and all of base * 2^(n-1)), until 24 h after creation. */
  private afterFailure(delivery: ClaimedDelivery, at: number): DeliveryNext {
    const failures = delivery.attempts + 1;
    const ceiling = Math.min(this.options.retryBaseMs * 2 ** (failures - 1), MAX_BACKOFF_MS);
    const nextAttemptAt = at + Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    return nextAttemptAt > delivery.createdAt + RETRY_FOR_MS ? { status: 'failed' } : { status: 'pending', nextAttemptAt };
  }

  private wakeAt(ms: number): void {
    const cancel = this.options.scheduler.after(Math.max(ms - this.options.clock.now(), 0), () => {
      this.wakeUps.delete(cancel);
      this.kick();
    });
    this.wakeUps.add(cancel);
  }
}

function describeFailure(failure: unknown, timeoutMs: number): string {
  const error = failure as { name?: string; code?: string; message?: string };
  if (error.name === 'TimeoutError' || error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT') {
    return `no answer within ${timeoutMs} ms`;
  }
  const text = [error.code, error.message].filter((x) => x !== undefined && x !== '').join(': ');
  return (text || String(failure)).slice(0, 500);
}
