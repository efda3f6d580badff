import { resolveAdminToken, type AdminToken } from './admin-token.js';
import { Alerts } from './alerts/alerts.js';
import { resolveWebhookSecret, type WebhookSecret } from './alerts/signing.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { Activity } from './dashboard/activity.js';
import { SessionSealer } from './dashboard/session.js';
import { hashSecret } from './domain/secrets.js';
import { authThrottleFor } from './http/auth-throttle.js';
import { buildServer, type BuildOptions } from './http/server.js';
import type { TypedApp } from './http/typed-app.js';
import { Metrics } from './observability/metrics.js';
import { systemScheduler, type Scheduler } from './scheduler.js';
import type { Services } from './services.js';
import { openStore } from './store/open-store.js';

export interface ComposeOptions extends BuildOptions {
  /** The time everything reads; default the system's. */
  clock?: Clock;
  /** What every background job runs on (store sweeps and syncs, alert scans, webhook retries); default Node's timers. */
  scheduler?: Scheduler;
  /**
   * Node's own process metrics (CPU, memory, event loop) on `/metrics`:
   * for a server, whose process is Tollgate's; not for the embedded SDK,
   * whose process is the host application's. Default true.
   */
  processMetrics?: boolean;
}

/** Tollgate assembled: its services wired, its HTTP application built, not yet listening, nothing running in the background. */
export interface ComposedTollgate {
  readonly config: Config;
  readonly services: Services;
  /** Every route, over `services`; not listening (`listen`, or `inject` in process). */
  readonly app: TypedApp;
  readonly adminToken: AdminToken;
  /** Where the webhook server secret came from (its value is never shown). */
  readonly webhookSecretSource: WebhookSecret['source'];
  /** What the background jobs run on. */
  readonly scheduler: Scheduler;
  /** Starts the background jobs that are not the store's (the expiring-key scan, webhook deliveries), logging to the app's logger. */
  start(): void;
  /**
   * Stops accepting calls and waits for those in flight, records the alerts
   * they raised, stops the background jobs, and closes the store (writing
   * everything buffered). Once: later calls get the same promise.
   */
  close(): Promise<void>;
}

/**
 * The one place Tollgate's services are assembled from its configuration:
 * the admin token, the webhook secret, metrics, the store, alerts, the
 * failed-authentication throttle, dashboard sessions, and the HTTP
 * application over them. The server (`startTollgate`) listens on it, the
 * embedded SDK calls it in process, and tests drive it with a ManualClock
 * and a ManualScheduler: the clock and every background job are injected
 * here and passed to everything that needs them.
 */
export async function createTollgate(config: Config, options: ComposeOptions = {}): Promise<ComposedTollgate> {
  const { clock = systemClock, scheduler = systemScheduler(), processMetrics = true, ...build } = options;
  const adminToken = resolveAdminToken(config);
  const webhookSecret = resolveWebhookSecret(config);
  const metrics = new Metrics({ processDefaults: processMetrics });
  const store = await openStore(config, clock, metrics.commitObserver, scheduler);
  let app: TypedApp;
  let alerts: Alerts;
  let services: Services;
  try {
    metrics.watchBacklog(() => store.backlog());
    alerts = new Alerts({ config, store, clock, scheduler, serverSecret: webhookSecret.value, onDeliveryOutcome: metrics.webhookDelivery });
    services = {
      config, clock, store, metrics, alerts,
      authThrottle: authThrottleFor(config, clock),
      activity: new Activity(),
      sessions: new SessionSealer(webhookSecret.value),
      adminTokenHash: adminToken.hash,
      metricsTokenHash: config.metricsToken === undefined ? null : hashSecret(config.metricsToken),
    };
    app = await buildServer(services, build);
  } catch (error) {
    await store.close();
    throw error;
  }
  let started = false;
  let closing: Promise<void> | null = null;
  return {
    config, services, app, adminToken, scheduler, webhookSecretSource: webhookSecret.source,
    start() {
      if (started || closing !== null) return;
      started = true;
      alerts.start(app.log);
    },
    close() {
      closing ??= (async () => {
        await app.close();
        // The alerts raised by the last calls are recorded before the store closes.
        await alerts.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
