import type { Clock } from '../clock.js';
import type { App } from '../domain/types.js';
import type { Config } from '../config.js';
import type { Cancel, Scheduler } from '../scheduler.js';
import type { IngestEvent } from '../domain/metering.js';
import type { Store } from '../store/store.js';
import type { AlertLog } from './alert-log.js';
import { AlertWatch, type UsageObservation, type UsageObserver } from './alert-watch.js';
import { WebhookDeliverer, type DeliveryOutcome } from './deliverer.js';
import { endpointSigningSecret } from './signing.js';

const SILENT: AlertLog = { debug: () => undefined, info: () => undefined, warn: () => undefined };

export interface AlertsOptions {
  config: Config;
  store: Store;
  clock: Clock;
  /** What the key scan, the outbox poll and the retries run on. */
  scheduler: Scheduler;
  /** The server secret endpoints' signing secrets are derived from (src/alerts/signing.ts). */
  serverSecret: string;
  /** Told each delivery attempt's outcome. */
  onDeliveryOutcome?: (outcome: DeliveryOutcome) => void;
}

/**
 * Usage alerts, assembled: the watch that raises them from metering
 * decisions, ingested usage and a periodic scan of expiring keys, and the
 * deliverer that sends them to the webhook endpoints.
 */
export class Alerts implements UsageObserver {
  private readonly watch: AlertWatch;
  private readonly deliverer: WebhookDeliverer;
  private log: AlertLog = SILENT;
  private scanner: Cancel | null = null;

  constructor(private readonly options: AlertsOptions) {
    const { config, store, clock, scheduler } = options;
    const log: AlertLog = {
      debug: (context, message) => this.log.debug(context, message),
      info: (context, message) => this.log.info(context, message),
      warn: (context, message) => this.log.warn(context, message),
    };
    this.deliverer = new WebhookDeliverer({
      store: store.alerts, clock, scheduler, log, timeoutMs: config.webhookTimeoutMs, retryBaseMs: config.webhookRetryBaseMs,
      signingSecret: (endpointId) => this.signingSecret(endpointId),
      ...(options.onDeliveryOutcome === undefined ? {} : { onOutcome: options.onDeliveryOutcome }),
    });
    this.watch = new AlertWatch({
      store, clock, log, keyExpiryNoticeMs: config.keyExpiryNoticeDays * 86_400_000, onDeliveries: () => this.deliverer.kick(),
    });
  }

  /** Starts delivering and scanning keys, logging to `log`. */
  start(log: AlertLog): void {
    this.log = log;
    this.deliverer.start();
    const scan = () => this.watch.scanExpiringKeys().catch((error: unknown) => this.log.warn({ err: error }, 'alerts: cannot scan for expiring keys'));
    this.scanner = this.options.scheduler.every(this.options.config.alertScanMs, scan);
    void scan();
  }

  observe(observation: UsageObservation): void {
    this.watch.observe(observation);
  }

  observeIngest(events: readonly IngestEvent[], apps: ReadonlyMap<string, App | null>): void {
    this.watch.observeIngest(events, apps);
  }

  /** The alert settings of a group changed through this instance. */
  get settings(): Pick<AlertWatch, 'settingsChanged'> {
    return this.watch;
  }

  /** Resolves once the alerts raised so far are recorded, their deliveries in the outbox. */
  settled(): Promise<void> {
    return this.watch.drain();
  }

  /** A new delivery (a replay) is due now. */
  deliverNow(): void {
    this.deliverer.kick();
  }

  signingSecret(endpointId: string): string {
    return endpointSigningSecret(this.options.serverSecret, endpointId);
  }

  /** Records the alerts still being raised and stops delivering; call before the store closes. */
  async stop(): Promise<void> {
    this.scanner?.();
    await this.watch.drain();
    await this.deliverer.stop();
  }
}
