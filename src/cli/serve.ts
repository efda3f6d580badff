import { secretWarnings, type Config } from '../config.js';
import type { GatewayConfig } from '../gateway/config.js';
import { startTollgate, type Tollgate } from '../runtime.js';
import { describeStore } from '../store/open-store.js';
import { createDemo } from './demo.js';

export interface ServeOptions {
  demo: boolean;
  /** Where to print what a person needs to know (stdout). */
  print: (line: string) => void;
  /** Gateway mode: the routes to meter and forward (from `--gateway <file>`). */
  gateway?: GatewayConfig;
}

/**
 * `tollgate serve`: starts Tollgate, prints where it listens and the admin
 * token, and stops cleanly on SIGTERM or SIGINT: no new calls, those in
 * flight finish, everything acknowledged is on disk before exit.
 */
export async function serve(config: Config, options: ServeOptions): Promise<Tollgate> {
  const { print } = options;
  const tollgate = await startTollgate(config, {
    ...(options.gateway === undefined ? {} : { gateway: options.gateway }),
    // Printed before a generated admin token's hash is written down: nothing is kept that was not shown.
    // The stop signals are handled before the banner appears: whoever reads it may signal at once.
    announce: (started) => {
      stopOnSignals(started);
      for (const line of banner(config, started, options.gateway)) print(line);
    },
  });
  // Over HTTPS, SIGHUP reads the certificate files again (for renewals the directory watch cannot see).
  const { certificates } = tollgate;
  if (certificates !== null) process.on('SIGHUP', () => certificates.reload('SIGHUP'));

  if (options.demo) {
    // The curl commands carry a token that works as pasted: the one just generated, or the variable it came from.
    const token = { generated: tollgate.adminToken.generated ?? '', environment: '$TOLLGATE_ADMIN_TOKEN', 'data directory': '<admin token>' }[tollgate.adminToken.source];
    for (const line of await createDemo(tollgate.services, tollgate.url, token)) print(line);
  }

  return tollgate;
}

/** A clean stop on SIGTERM or SIGINT: no new calls, those in flight finish, everything acknowledged on disk. */
function stopOnSignals(tollgate: Tollgate): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    tollgate.app.log.info({ signal }, 'stopping');
    tollgate.close().then(
      () => process.exit(0),
      (error: unknown) => {
        tollgate.app.log.error({ err: error }, 'failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  // on, not once: a second signal while stopping must not kill the process halfway through its close.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Where Tollgate listens, what it serves from, where its secrets come from, and the dashboard; the admin token line last. */
function banner(config: Config, tollgate: Tollgate, gateway: GatewayConfig | undefined): string[] {
  const lines = [`Tollgate listening on ${tollgate.url}`];
  if (gateway !== undefined) {
    lines.push(`Gateway: ${gateway.routes.length} route${gateway.routes.length === 1 ? '' : 's'} from ${gateway.source}`);
    for (const route of gateway.routes) {
      lines.push(`  ${route.methods.join(',')} ${route.path} -> ${route.upstream.origin}${route.upstream.basePath} (usage_type ${route.usageType})`);
    }
  }
  lines.push(`Store: ${describeStore(config)}`);
  // Weak secrets stop a start beyond loopback (loadConfig); on loopback they are only pointed out.
  lines.push(...secretWarnings(config));
  if (tollgate.certificates !== null) {
    const { subject, serial, validTo } = tollgate.certificates.served();
    lines.push(`TLS: ${subject} (serial ${serial}, valid until ${validTo}) from ${config.tlsCert}; read again when its directory changes or on SIGHUP`);
  }
  lines.push({
    environment: 'Webhook signing: from TOLLGATE_WEBHOOK_SECRET',
    'data directory': `Webhook signing: the server secret in ${config.dataDir} (set TOLLGATE_WEBHOOK_SECRET to share it with other instances)`,
    generated: `Webhook signing: a server secret was generated into ${config.dataDir} (never printed)`,
  }[tollgate.webhookSecretSource], `Dashboard: ${tollgate.url}/dashboard (sign in with the admin token)`, {
    generated: `Admin token (generated; shown this once, only its hash is kept): ${tollgate.adminToken.generated}`,
    environment: 'Admin token: from TOLLGATE_ADMIN_TOKEN',
    'data directory': 'Admin token: as printed at first start (only its hash is kept); `tollgate admin-token rotate` issues a new one',
  }[tollgate.adminToken.source]);
  return lines;
}
