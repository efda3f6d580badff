import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { WriterClient } from '../../src/store/sqlite/writer-client.js';
import { creditStoreConformance } from '../conformance/credit-store-conformance.js';

// The credits of the embedded store. Batches are committed by a writer thread of their own on the store's file
// (the writer the store runs, started apart): the store itself meters nothing here, so its own writer never
// writes an event, and the two never hand out the same seq.
creditStoreConformance('embedded SQLite', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-credits-'));
  const openStore = () => new SqliteStore({ dataDir, clock: new ManualClock(Date.parse('2026-03-15T12:00:00Z')), idempotencyWindowMs: 86_400_000, rollupFlushMs: 50 });
  let store = openStore();
  let writer = new WriterClient({ path: store.path, rollupFlushMs: 50 });
  const closeBoth = async () => {
    await writer.close();
    await store.close();
  };
  return {
    get store() {
      return store;
    },
    commit: (items, receivedAt) => writer.commit(items, receivedAt),
    async reopen() {
      await closeBoth();
      store = openStore();
      writer = new WriterClient({ path: store.path, rollupFlushMs: 50 });
    },
    async destroy() {
      await closeBoth();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
