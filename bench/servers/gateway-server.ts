/**
 * Tollgate in gateway mode, in a child process of the gateway benchmark:
 * startTollgate (as `tollgate serve --gateway` does) with one route,
 * POST /v1/text to the upstream in BENCH_UPSTREAM_URL at a fixed cost of 1.
 * Other settings from the environment (TOLLGATE_DATA_DIR,
 * TOLLGATE_ADMIN_TOKEN, ...). Reports `ready` over IPC, and `stats` (the
 * group committer's batch sizes) before it stops on SIGTERM.
 */
import { loadConfig } from '../../src/config.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { startTollgate } from '../../src/runtime.js';
import { batchStats, reportStartFailure, send, stopOnSigterm } from './ipc.js';

try {
  const upstream = process.env.BENCH_UPSTREAM_URL;
  if (upstream === undefined) throw new Error('BENCH_UPSTREAM_URL is not set');
  const config = loadConfig(process.env, { host: '127.0.0.1', port: 0, logLevel: 'warn' });
  const gateway = parseGatewayConfig(`routes:
  - method: POST
    path: /v1/text
    upstream: ${upstream}
    usage_type: text
    cost: { fixed: 1 }
`, 'bench-gateway.yaml');
  const tollgate = await startTollgate(config, { gateway });
  await send({ type: 'ready', url: tollgate.url });

  stopOnSigterm('gateway-server', () => batchStats(tollgate), () => tollgate.close());
} catch (error) {
  await reportStartFailure(error);
}
