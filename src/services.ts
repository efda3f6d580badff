import type { Alerts } from './alerts/alerts.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Activity } from './dashboard/activity.js';
import type { SessionSealer } from './dashboard/session.js';
import type { AuthThrottle } from './http/auth-throttle.js';
import type { Metrics } from './observability/metrics.js';
import type { Store } from './store/store.js';

/** Everything a request handler may use, wired once at start and passed in. */
export interface Services {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: Store;
  /** SHA-256 hex of the admin token; the token itself is not kept. */
  readonly adminTokenHash: string;
  /** SHA-256 hex of the metrics token (TOLLGATE_METRICS_TOKEN), when one is set. */
  readonly metricsTokenHash: string | null;
  readonly metrics: Metrics;
  /** Usage alerts: told of every metering decision, and the webhook endpoints' signing secrets. */
  readonly alerts: Alerts;
  /** Recent denials and top consumers, as this instance saw them (the dashboard). */
  readonly activity: Activity;
  /** The dashboard's session cookies and CSRF tokens, keyed from the server secret. */
  readonly sessions: SessionSealer;
  /** Failed authentications per client address, and the addresses refused for a while because of them. */
  readonly authThrottle: AuthThrottle;
}
