import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { storeConformance } from '../conformance/store-conformance.js';

storeConformance('embedded SQLite', async ({ commitObserver }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-store-'));
  const open = () => new SqliteStore({
    dataDir, clock: new ManualClock(Date.parse('2026-03-15T12:00:00Z')), idempotencyWindowMs: 35 * 86_400_000, rollupFlushMs: 50, commitObserver,
  });
  let store = open();
  return {
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = open();
      return store;
    },
    async destroy() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
