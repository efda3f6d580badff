import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CommitObserver, CommitReport } from '../engine/group-commit.js';
import type { MeterResult } from '../domain/metering.js';
import type { StoreBacklog } from '../engine/ports.js';

/** How a check ended: its answer's code, or `error` when it failed (a 5xx). */
export type CheckOutcomeLabel = 'allowed' | 'rate_limited' | 'quota_exceeded' | 'unauthorized' | 'error';
/** Where the check was made: the check API, or the gateway in front of an upstream. */
export type CheckSource = 'check_api' | 'gateway';

/** The outcome label of a check the store decided. */
export function meteredOutcome(result: Pick<MeterResult, 'allowed' | 'code'>): CheckOutcomeLabel {
  return result.allowed ? 'allowed' : result.code === 'quota_exceeded' ? 'quota_exceeded' : 'rate_limited';
}

/** Shorter than a millisecond to a few seconds: an admitted check waits for an fsync. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop lag, GC); off for servers that share a process with an app. */
  processDefaults?: boolean;
}

/**
 * Every metric Tollgate exports, on a registry of this server's own (two
 * servers in one process count apart). Code records through the methods
 * here; label values are few and fixed: never a group, app or key id.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly checks: Counter<'outcome' | 'source'>;
  private readonly checkDuration: Histogram<'outcome' | 'source'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_class'>;
  private readonly commitBatchSize: Histogram;
  private readonly commitWait: Histogram;
  private readonly commitDuration: Histogram;
  private readonly commitFailures: Counter;
  private readonly ingestedEvents: Counter<'outcome'>;
  private readonly webhookDeliveries: Counter<'outcome'>;
  /** Histogram children by label values: labelling is a hash of the labels on every call otherwise. */
  private readonly httpChildren = new Map<string, { observe(value: number): void }>();
  private backlogSource: (() => StoreBacklog) | null = null;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.checks = new Counter({
      name: 'tollgate_checks_total', help: 'Checks decided, by outcome (allowed, rate_limited, quota_exceeded, unauthorized, error) and source.',
      labelNames: ['outcome', 'source'], registers,
    });
    this.checkDuration = new Histogram({
      name: 'tollgate_check_duration_seconds', help: 'Time to decide a check, durable write of an admitted call included.',
      labelNames: ['outcome', 'source'], buckets: LATENCY_BUCKETS, registers,
    });
    this.httpDuration = new Histogram({
      name: 'tollgate_http_request_duration_seconds', help: 'HTTP requests by method, route pattern and status class, until the answer is sent.',
      labelNames: ['method', 'route', 'status_class'], buckets: LATENCY_BUCKETS, registers,
    });
    this.commitBatchSize = new Histogram({
      name: 'tollgate_commit_batch_size', help: 'Writes (admitted calls, ingested events) per group-commit transaction.', buckets: BATCH_BUCKETS, registers,
    });
    this.commitWait = new Histogram({
      name: 'tollgate_commit_wait_seconds', help: "How long a batch's oldest write queued before its commit began.", buckets: LATENCY_BUCKETS, registers,
    });
    this.commitDuration = new Histogram({
      name: 'tollgate_commit_duration_seconds', help: 'Time to commit one batch durably (fsync or PostgreSQL COMMIT).', buckets: LATENCY_BUCKETS, registers,
    });
    this.commitFailures = new Counter({ name: 'tollgate_commit_failures_total', help: 'Batches whose commit failed (every call in them was answered with an error).', registers });
    this.ingestedEvents = new Counter({
      name: 'tollgate_ingested_events_total', help: 'Events received by POST /v1/events, by outcome (accepted, duplicate, rejected).', labelNames: ['outcome'], registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'tollgate_webhook_deliveries_total', help: 'Webhook delivery attempts, by outcome (delivered, retrying: failed and tried again later, failed: given up on).',
      labelNames: ['outcome'], registers,
    });
    const backlogGauge = (name: string, help: string, read: (b: StoreBacklog) => number) => {
      const source = () => this.backlogSource;
      new Gauge({
        name, help, registers,
        collect() {
          const backlog = source();
          if (backlog !== null) this.set(read(backlog()));
        },
      });
    };
    backlogGauge('tollgate_writes_queued', 'Admitted calls and ingested events waiting for their commit to begin.', (b) => b.queuedWrites);
    backlogGauge('tollgate_writes_committing', 'Admitted calls and ingested events in the batches being committed.', (b) => b.committingWrites);
    backlogGauge('tollgate_rollup_pending_events', 'Committed events not yet summed into the rollup tables (embedded store).', (b) => b.rollupPendingEvents);
    backlogGauge('tollgate_spool_batches', 'Batches spooled to local disk while PostgreSQL is away (scale-out store, fail-open).', (b) => b.spooledBatches);
    if (options.processDefaults === true) {
      collectDefaultMetrics({ register: this.registry });
      dropMisnamedGauges(this.registry);
    }
  }

  /** Where the backlog gauges read from at each scrape: the store, once it is open. */
  watchBacklog(read: () => StoreBacklog): void {
    this.backlogSource = read;
  }

  /** For the store's group committer: each batch's size, queueing and commit time. */
  readonly commitObserver: CommitObserver = {
    batchCommitted: (report: CommitReport) => {
      this.commitBatchSize.observe(report.items);
      this.commitWait.observe(report.waitedMs / 1000);
      this.commitDuration.observe(report.commitMs / 1000);
      if (!report.ok) this.commitFailures.inc();
    },
  };

  check(source: CheckSource, outcome: CheckOutcomeLabel, seconds: number): void {
    this.checks.inc({ outcome, source });
    this.checkDuration.observe({ outcome, source }, seconds);
  }

  /** `route` is the route's pattern (e.g. `/admin/plans/:id`), never the URL that was asked. */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const statusClass = `${Math.floor(statusCode / 100)}xx`;
    const id = `${method} ${route} ${statusClass}`;
    let child = this.httpChildren.get(id);
    if (child === undefined) {
      child = this.httpDuration.labels({ method, route, status_class: statusClass });
      this.httpChildren.set(id, child);
    }
    child.observe(seconds);
  }

  ingested(outcome: 'accepted' | 'duplicate' | 'rejected', count: number): void {
    if (count > 0) this.ingestedEvents.inc({ outcome }, count);
  }

  /** For the webhook deliverer: each attempt's outcome. */
  readonly webhookDelivery = (outcome: 'delivered' | 'retrying' | 'failed'): void => {
    this.webhookDeliveries.inc({ outcome });
  };

  /** The exposition text and its content type, for `GET /metrics`. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * prom-client's defaults include gauges named `..._total`
 * (`nodejs_active_handles_total`, `nodejs_active_requests_total`,
 * `nodejs_active_resources_total`), a suffix the Prometheus conventions keep
 * for counters, so `promtool check metrics` refuses the exposition. Each only
 * sums the gauge of the same name without the suffix over its `type` label
 * (`sum(nodejs_active_handles)` gives it back), so they are dropped: any
 * gauge whose name ends in `_total`, should a later prom-client add one.
 */
function dropMisnamedGauges(registry: Registry): void {
  for (const metric of registry.getMetricsAsArray()) {
    if (metric instanceof Gauge && metric.name.endsWith('_total')) registry.removeSingleMetric(metric.name);
  }
}

