import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { Alerts } from './alerts/alerts.js';
import { resolveWebhookSecret, type WebhookSecret } from './alerts/signing.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { hashSecret, newSecret } from './domain/secrets.js';
import { authThrottleFor } from './http/auth-throttle.js';
import { CertificateReloader } from './http/certificate-reloader.js';
import { buildServer, type BuildOptions } from './http/server.js';
import { certificatePaths, readCertificatePair, secureContextOptions } from './http/tls-certificate.js';
import { Metrics } from './observability/metrics.js';
import { Activity } from './dashboard/activity.js';
import { SessionSealer } from './dashboard/session.js';
import type { TypedApp } from './http/typed-app.js';
import type { Services } from './services.js';
import { openStore } from './store/open-store.js';

export const ADMIN_TOKEN_FILE = 'admin-token.sha256';

export interface AdminToken {
  hash: string;
  /** Set only when the token was generated just now: the one time it can be shown. */
  generated: string | null;
  source: 'environment' | 'data directory' | 'generated';
}

/**
 * The admin token's hash: from TOLLGATE_ADMIN_TOKEN, or from the data
 * directory, or newly generated. Only the hash is written to disk; a
 * generated token is returned once so that it can be printed.
 */
export function resolveAdminToken(config: Config): AdminToken {
  if (config.adminToken !== undefined) return { hash: hashSecret(config.adminToken), generated: null, source: 'environment' };
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  if (existsSync(file)) return { hash: readFileSync(file, 'utf8').trim(), generated: null, source: 'data directory' };
  return rotateAdminToken(config.dataDir);
}

/** Issues a new admin token, keeping only its hash in the data directory. */
export function rotateAdminToken(dataDir: string): AdminToken {
  mkdirSync(dataDir, { recursive: true });
  const token = newSecret('tga_');
  const hash = hashSecret(token);
  writeFileSync(join(dataDir, ADMIN_TOKEN_FILE), `${hash}\n`, { mode: 0o600 });
  return { hash, generated: token, source: 'generated' };
}

export interface Tollgate {
  app: TypedApp;
  services: Services;
  adminToken: AdminToken;
  /** Where the webhook server secret came from (its value is never shown). */
  webhookSecretSource: WebhookSecret['source'];
  /** Where it listens, e.g. http://127.0.0.1:8080, or https://… with TOLLGATE_TLS_CERT. */
  url: string;
  /** Over HTTPS: serves renewed certificate files (watched; `reload()` on SIGHUP). Null for plain HTTP. */
  certificates: CertificateReloader | null;
  /** Stops accepting calls, waits for those in flight, and writes everything buffered. */
  close(): Promise<void>;
}

export interface StartOptions extends BuildOptions {
  clock?: Clock;
}

/** Opens the store, builds the HTTP application and starts listening. */
export async function startTollgate(config: Config, options: StartOptions = {}): Promise<Tollgate> {
  const clock = options.clock ?? systemClock;
  const tlsPaths = certificatePaths(config);
  // Read and matched before anything opens: a bad pair stops the start naming the file at fault.
  const tls = tlsPaths === null ? null : { paths: tlsPaths, current: readCertificatePair(tlsPaths) };
  const adminToken = resolveAdminToken(config);
  const webhookSecret = resolveWebhookSecret(config);
  const metrics = new Metrics({ processDefaults: true });
  const store = await openStore(config, clock, metrics.commitObserver);
  metrics.watchBacklog(() => store.backlog());
  const alerts = new Alerts({ config, store, clock, serverSecret: webhookSecret.value, onDeliveryOutcome: metrics.webhookDelivery });
  const authThrottle = authThrottleFor(config, clock);
  const services: Services = {
    config, clock, store, metrics, alerts, authThrottle, activity: new Activity(), sessions: new SessionSealer(webhookSecret.value), adminTokenHash: adminToken.hash, metricsTokenHash: config.metricsToken === undefined ? null : hashSecret(config.metricsToken),
  };
  const app = await buildServer(services, tls === null ? options : { ...options, tls: tls.current });
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await store.close();
    throw error;
  }
  alerts.start(app.log);
  const certificates = tls === null ? null : new CertificateReloader({
    ...tls,
    apply: (pair) => (app.server as unknown as TlsServer).setSecureContext(secureContextOptions(pair)),
    log: app.log,
  });
  certificates?.start();
  let closing: Promise<void> | null = null;
  return {
    app, services, adminToken, url, certificates, webhookSecretSource: webhookSecret.source,
    close: () => {
      closing ??= (async () => {
        certificates?.stop();
        await app.close();
        // The alerts raised by the last calls are recorded before the store closes.
        await alerts.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
