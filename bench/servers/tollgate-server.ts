/**
 * Tollgate in a child process of the benchmark: the same startTollgate as
 * `tollgate serve`, settings from the environment (TOLLGATE_DATA_DIR,
 * TOLLGATE_ADMIN_TOKEN, ...), a free port on 127.0.0.1. Reports over IPC:
 * `ready` with the URL and timings, and `stats` just before it exits on SIGTERM
 * (after which it closes the server and the store, as `serve` does).
 *
 * With BENCH_TIME_STORE_OPEN=1 the store is first opened (and closed) on its
 * own, to time the rollup of every event past the watermark.
 */
import { performance } from 'node:perf_hooks';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { startTollgate } from '../../src/runtime.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { batchStats, reportStartFailure, send, stopOnSigterm } from './ipc.js';

try {
  const config = loadConfig(process.env, { host: '127.0.0.1', port: 0, logLevel: 'warn' });

  let storeOpenMs: number | null = null;
  let rssAfterStoreOpenMb: number | null = null;
  if (process.env.BENCH_TIME_STORE_OPEN === '1' && config.store.kind === 'embedded') {
    const t0 = performance.now();
    const store = new SqliteStore({
      dataDir: config.dataDir,
      clock: systemClock,
      idempotencyWindowMs: config.idempotencyWindowDays * 86_400_000,
      rollupFlushMs: config.store.rollupFlushMs,
    });
    storeOpenMs = performance.now() - t0;
    rssAfterStoreOpenMb = Math.round(process.memoryUsage().rss / 1e6);
    await store.close();
  }

  const t0 = performance.now();
  const tollgate = await startTollgate(config);
  const startMs = performance.now() - t0;
  await send({ type: 'ready', url: tollgate.url, startMs, storeOpenMs, rssAfterStoreOpenMb });

  stopOnSigterm('tollgate-server', () => batchStats(tollgate), () => tollgate.close());
} catch (error) {
  await reportStartFailure(error);
}
