import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../../../src/clock.js';
import { PG_TYPES } from '../../../src/store/postgres/pg-catalog.js';
import { PgCredits } from '../../../src/store/postgres/pg-credits.js';
import { PgUsage } from '../../../src/store/postgres/pg-usage.js';
import { migrate } from '../../../src/store/postgres/schema.js';
import type { PendingWrite } from '../../../src/engine/pending-write.js';
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
    settle: () => store.credits.fold(),
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

// Batches append credit uses while instances fold them into the grants: every read counts each use once,
// before its fold or after it, and nothing is left behind or counted twice.
test('credit uses folded while batches append them: each read counts each use once, and the folds leave none behind', async (t) => {
  const postgres = await startPostgres({ durable: false });
  const pool = new pg.Pool({ connectionString: postgres.url, types: PG_TYPES, max: 12 });
  t.after(async () => {
    await pool.end();
    await postgres.stop();
  });
  await migrate(pool);
  const catalog = new PgCredits(pool);
  const folders = [new PgCredits(pool), new PgCredits(pool)];
  const usage = new PgUsage(pool);
  const T = Date.parse('2026-03-15T12:00:00Z');
  await pool.query("INSERT INTO plans (id, monthly_quota, rate_limit_per_minute, time_zone, created_at, updated_at) VALUES ('p', -1, -1, 'UTC', $1, $1)", [T]);
  await pool.query("INSERT INTO customer_groups (id, name, plan_id, created_at, updated_at) VALUES ('g', 'G', 'p', $1, $1)", [T]);
  const grants = [
    (await catalog.grant('g', { amount: 1_000_000, priority: 0, expiresAt: null, note: null, idempotencyKey: null }, T)).grant,
    (await catalog.grant('g', { amount: 1_000_000, priority: 1, expiresAt: null, note: null, idempotencyKey: null }, T)).grant,
  ];
  const item = (i: number): PendingWrite => ({
    ts: T, groupId: 'g', appId: 'a', keyId: null, usageType: 'image', requestArgsHash: '', count: 1,
    credits: [{ kind: 'grant', grantId: grants[i % 2]!.id, amount: 1 + (i % 3) }, ...(i % 5 === 0 ? [{ kind: 'debt' as const, groupId: 'g', amount: 2 }] : [])],
  });
  const expected = { used: [0, 0], debt: 0 };
  const seen: number[] = [];
  for (let round = 0; round < 12; round += 1) {
    const batches = Array.from({ length: 6 }, (_, b) => Array.from({ length: 5 }, (_, k) => item(round * 30 + b * 5 + k)));
    const reads: Array<Promise<void>> = [];
    // Reads during the writes and folds: a total between the one before the round and the one after it.
    for (let r = 0; r < 4; r += 1) {
      reads.push(catalog.creditState('g').then((s) => void seen.push(s.grants.reduce((sum, g) => sum + g.used, 0) + s.debt)));
    }
    await Promise.all([...batches.map((batch) => usage.write(batch, T)), ...folders.map((f) => f.fold()), ...reads]);
    for (const batch of batches) {
      for (const w of batch) {
        for (const m of w.credits!) {
          if (m.kind === 'grant') expected.used[grants.findIndex((g) => g.id === m.grantId)]! += m.amount;
          else expected.debt += m.amount;
        }
      }
    }
    const state = await catalog.creditState('g');
    assert.deepEqual({ used: state.grants.map((g) => g.used), debt: state.debt }, expected, `after round ${round}`);
  }
  const total = expected.used[0]! + expected.used[1]! + expected.debt;
  assert.ok(seen.every((s) => s >= 0 && s <= total), 'no read counted a use twice');
  await folders[0]!.fold();
  assert.equal(Number((await pool.query('SELECT count(*) AS n FROM credit_uses')).rows[0].n), 0, 'every use folded');
  const { rows } = await pool.query('SELECT used FROM credit_grants ORDER BY id');
  assert.deepEqual(rows.map((r) => Number(r.used)), expected.used, 'the grants hold them');
  assert.equal(Number((await pool.query("SELECT debt FROM credit_debts WHERE group_id = 'g'")).rows[0].debt), expected.debt);
  assert.deepEqual((await catalog.creditState('g')).grants.map((g) => g.used), expected.used, 'read the same once folded');
});
