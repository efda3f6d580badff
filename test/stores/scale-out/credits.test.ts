import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { systemClock } from '../../../src/clock.js';
import { PG_TYPES } from '../../../src/store/postgres/pg-catalog.js';
import { PgUsage } from '../../../src/store/postgres/pg-usage.js';
import { ScaleOutStore } from '../../../src/store/scale-out/scale-out-store.js';
import { creditStoreConformance } from '../../conformance/credit-store-conformance.js';
import { startPostgres } from '../../helpers/postgres.js';
import { startRedis } from '../../helpers/redis.js';

// The credits of the scale-out store, on a real PostgreSQL 15. Batches are committed as the store's durable
// writer commits them (PgUsage.write), on a pool of their own, as another instance would.
creditStoreConformance('PostgreSQL + Redis', async () => {
  const [postgres, redis] = await Promise.all([startPostgres({ durable: false }), startRedis()]);
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-scale-credits-'));
  const open = () => ScaleOutStore.open({
    databaseUrl: postgres.url, redisUrl: redis.url, clock: systemClock, idempotencyWindowMs: 86_400_000, dataDir, onStoreDown: 'closed',
  });
  let store = await open();
  const pool = new pg.Pool({ connectionString: postgres.url, types: PG_TYPES });
  const usage = new PgUsage(pool);
  return {
    get store() {
      return store;
    },
    commit: async (items, receivedAt) => (await usage.write(items, receivedAt)).seqs,
    async reopen() {
      await store.close();
      store = await open();
    },
    async destroy() {
      await store.close();
      await pool.end();
      await Promise.all([postgres.stop(), redis.stop()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
