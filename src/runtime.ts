import type { Server as TlsServer } from 'node:tls';
import { keepAdminToken, type AdminToken } from './admin-token.js';
import type { WebhookSecret } from './alerts/signing.js';
import { createTollgate, type ComposeOptions } from './compose.js';
import type { Config } from './config.js';
import { CertificateReloader } from './http/certificate-reloader.js';
import { certificatePaths, readCertificatePair, secureContextOptions } from './http/tls-certificate.js';
import type { TypedApp } from './http/typed-app.js';
import type { Services } from './services.js';

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

export interface StartOptions extends Omit<ComposeOptions, 'tls'> {
  /**
   * Shows what a person needs to know once Tollgate listens (where, and a
   * generated admin token). A generated token's hash is kept only after this
   * returns, so a start that fails before (its port taken) stores nothing.
   */
  announce?: (tollgate: Tollgate) => void;
}

/**
 * Tollgate as a server: assembled by `createTollgate`, listening on the
 * configured address (over HTTPS with TOLLGATE_TLS_CERT, the certificate
 * reloaded when renewed), its background jobs started, announced.
 */
export async function startTollgate(config: Config, options: StartOptions = {}): Promise<Tollgate> {
  const { announce, ...compose } = options;
  const tlsPaths = certificatePaths(config);
  // Read and matched before anything opens: a bad pair stops the start naming the file at fault.
  const tls = tlsPaths === null ? null : { paths: tlsPaths, current: readCertificatePair(tlsPaths) };
  const core = await createTollgate(config, tls === null ? compose : { ...compose, tls: tls.current });
  const { app } = core;
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await core.close();
    throw error;
  }
  core.start();
  const certificates = tls === null ? null : new CertificateReloader({
    ...tls,
    apply: (pair) => (app.server as unknown as TlsServer).setSecureContext(secureContextOptions(pair)),
    log: app.log,
    scheduler: core.scheduler,
  });
  certificates?.start();
  let closing: Promise<void> | null = null;
  const tollgate: Tollgate = {
    app, services: core.services, adminToken: core.adminToken, url, certificates, webhookSecretSource: core.webhookSecretSource,
    close: () => {
      closing ??= (async () => {
        certificates?.stop();
        await core.close();
      })();
      return closing;
    },
  };
  try {
    announce?.(tollgate);
    if (core.adminToken.generated !== null) keepAdminToken(config.dataDir, core.adminToken);
  } catch (error) {
    await tollgate.close();
    throw error;
  }
  return tollgate;
}
