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

const send = (message: Record<string, unknown>): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });

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

  let stopping = false;
  process.once('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    const committer = (tollgate.services.store as unknown as { committer?: { recentBatchSizes(): readonly number[] } }).committer;
    const sizes = committer?.recentBatchSizes() ?? [];
    void send({
      type: 'stats',
      meanBatch: sizes.length === 0 ? null : sizes.reduce((a, b) => a + b, 0) / sizes.length,
      rssMb: Math.round(process.memoryUsage().rss / 1e6),
    })
      .then(() => tollgate.close())
      .then(() => process.exit(0), (error: unknown) => {
        process.stderr.write(`gateway-server: failed to stop cleanly: ${String(error)}\n`);
        process.exit(1);
      });
  });
} catch (error) {
  await send({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) });
  process.exit(1);
}
