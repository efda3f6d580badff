import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
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
import { systemScheduler, type Scheduler } from './scheduler.js';
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
 * directory, or newly generated. A generated token is held in memory only:
 * its hash is written down by keepAdminToken once the token has been shown.
 */
export function resolveAdminToken(config: Config): AdminToken {
  if (config.adminToken !== undefined) return { hash: hashSecret(config.adminToken), generated: null, source: 'environment' };
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  if (existsSync(file)) return { hash: readFileSync(file, 'utf8').trim(), generated: null, source: 'data directory' };
  return newAdminToken();
}

function newAdminToken(): AdminToken {
  const token = newSecret('tga_');
  return { hash: hashSecret(token), generated: token, source: 'generated' };
}

/**
 * Writes a generated token's hash into the data directory, whole or not at
 * all (written aside, flushed, then renamed over the old one). Called after
 * the token was shown, never before: a crash in between leaves a token that
 * was shown and not kept (the next start generates and shows another), never
 * a kept one that nobody saw.
 */
export function keepAdminToken(dataDir: string, token: AdminToken): void {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    mkdirSync(dataDir, { recursive: true });
    const aside = `${file}.tmp`;
    const fd = openSync(aside, 'w', 0o600);
    try {
      writeSync(fd, `${token.hash}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(aside, file);
  } catch (error) {
    throw new Error(`could not keep the admin token's hash in ${file} (${error instanceof Error ? error.message : String(error)}); the token shown is not in effect.`);
  }
}

/** Issues a new admin token: shows it (`show`), then keeps only its hash in the data directory. */
export function rotateAdminToken(dataDir: string, show: (token: string) => void = () => undefined): AdminToken {
  const token = newAdminToken();
  show(token.generated!);
  keepAdminToken(dataDir, token);
  return token;
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
  /** What every background job runs on (store sweeps, alert scans, webhook retries, the certificate's settling); default Node's timers. */
  scheduler?: Scheduler;
  /**
   * Shows what a person needs to know once Tollgate listens (where, and a
   * generated admin token). A generated token's hash is kept only after this
   * returns, so a start that fails before (its port taken) stores nothing.
   */
  announce?: (tollgate: Tollgate) => void;
}

/** Opens the store, builds the HTTP application and starts listening. */
export async function startTollgate(config: Config, options: StartOptions = {}): Promise<Tollgate> {
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler();
  const tlsPaths = certificatePaths(config);
  // Read and matched before anything opens: a bad pair stops the start naming the file at fault.
  const tls = tlsPaths === null ? null : { paths: tlsPaths, current: readCertificatePair(tlsPaths) };
  const adminToken = resolveAdminToken(config);
  const webhookSecret = resolveWebhookSecret(config);
  const metrics = new Metrics({ processDefaults: true });
  const store = await openStore(config, clock, metrics.commitObserver, scheduler);
  metrics.watchBacklog(() => store.backlog());
  const alerts = new Alerts({ config, store, clock, scheduler, serverSecret: webhookSecret.value, onDeliveryOutcome: metrics.webhookDelivery });
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
    scheduler,
  });
  certificates?.start();
  let closing: Promise<void> | null = null;
  const tollgate: Tollgate = {
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
  try {
    options.announce?.(tollgate);
    if (adminToken.generated !== null) keepAdminToken(config.dataDir, adminToken);
  } catch (error) {
    await tollgate.close();
    throw error;
  }
  return tollgate;
}
