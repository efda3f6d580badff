import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { systemClock } from '../../../src/clock.js';
import { ScaleOutStore } from '../../../src/store/scale-out/scale-out-store.js';
import { storeConformance } from '../../conformance/store-conformance.js';
import { startPostgres } from '../../helpers/postgres.js';
import { startRedis } from '../../helpers/redis.js';

// The whole store contract, unchanged, on a real PostgreSQL 15 and a real
// Redis: the same tests the embedded store passes, in strict mode and in
// relaxed mode (one relaxed instance is as exact as one embedded store). A
// server that cannot be started fails the suite (its before hook throws),
// never skips it.
for (const limits of [{ mode: 'strict' }, { mode: 'relaxed', syncMs: 50 }] as const) storeConformance(`PostgreSQL + Redis, ${limits.mode} limits`, async ({ commitObserver }) => {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-scale-store-'));
  const open = () => ScaleOutStore.open({
    databaseUrl: postgres.url, redisUrl: redis.url, clock: systemClock, idempotencyWindowMs: 35 * 86_400_000, dataDir, onStoreDown: 'closed', limits, commitObserver,
  });
  let store = await open();
  return {
    store,
    async reopen() {
      await store.close();
      // A restarted instance finds its counters in Redis; one that lost them must find the same in PostgreSQL.
      const client = new Redis(redis.url);
      await client.flushall();
      client.disconnect();
      store = await open();
      return store;
    },
    async destroy() {
      await store.close();
      await Promise.all([postgres.stop(), redis.stop()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
