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
  const tollgate = await startTollgate(config, options.gateway === undefined ? {} : { gateway: options.gateway });
  // Listening from here on: a stop signal must find its handler even while the demo is being set up.
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

  const { print } = options;
  print(`Tollgate listening on ${tollgate.url}`);
  if (options.gateway !== undefined) {
    print(`Gateway: ${options.gateway.routes.length} route${options.gateway.routes.length === 1 ? '' : 's'} from ${options.gateway.source}`);
    for (const route of options.gateway.routes) {
      print(`  ${route.methods.join(',')} ${route.path} -> ${route.upstream.origin}${route.upstream.basePath} (usage_type ${route.usageType})`);
    }
  }
  print(`Store: ${describeStore(config)}`);
  // Weak secrets stop a start beyond loopback (loadConfig); on loopback they are only pointed out.
  for (const warning of secretWarnings(config)) print(warning);
  print({
    environment: 'Webhook signing: from TOLLGATE_WEBHOOK_SECRET',
    'data directory': `Webhook signing: the server secret in ${config.dataDir} (set TOLLGATE_WEBHOOK_SECRET to share it with other instances)`,
    generated: `Webhook signing: a server secret was generated into ${config.dataDir} (never printed)`,
  }[tollgate.webhookSecretSource]);
  switch (tollgate.adminToken.source) {
    case 'generated':
      print(`Admin token (generated; shown this once, only its hash is kept): ${tollgate.adminToken.generated}`);
      break;
    case 'environment':
      print('Admin token: from TOLLGATE_ADMIN_TOKEN');
      break;
    case 'data directory':
      print('Admin token: as printed at first start (only its hash is kept); `tollgate admin-token rotate` issues a new one');
      break;
  }
  if (options.demo) {
    // The curl commands carry a token that works as pasted: the one just generated, or the variable it came from.
    const token = { generated: tollgate.adminToken.generated ?? '', environment: '$TOLLGATE_ADMIN_TOKEN', 'data directory': '<admin token>' }[tollgate.adminToken.source];
    for (const line of await createDemo(tollgate.services, tollgate.url, token)) print(line);
  }

  return tollgate;
}
