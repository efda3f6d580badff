import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/clock.js';
import { LIMIT_COLUMNS } from '../../src/store/catalog-rows.js';
import { MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

// A data directory written before plans had named limits and credits, and groups and apps
// their overrides: opened by this version, its rows read back with the defaults.

test('plans, groups and apps written before the limit columns read back with no limits, no overrides and no credits', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-limits-migration-'));
  try {
    const before = MIGRATIONS.indexOf(LIMIT_COLUMNS);
    assert.ok(before > 0);
    const db = new Database(join(dataDir, 'tollgate.db'));
    for (const migration of MIGRATIONS.slice(0, before)) db.exec(migration);
    db.pragma(`user_version = ${before}`);
    db.exec(`INSERT INTO plans (id, monthly_quota, rate_limit_per_minute, price_per_call, time_zone, created_at, updated_at) VALUES ('old', 100, 10, NULL, 'UTC', 1, 1);
      INSERT INTO customer_groups (id, name, plan_id, created_at, updated_at) VALUES ('g', 'G', 'old', 1, 1);
      INSERT INTO apps (id, group_id, name, monthly_quota, rate_limit_per_minute, created_at, updated_at) VALUES ('a', 'g', 'A', 5, NULL, 1, 1);`);
    db.close();

    const store = new SqliteStore({ dataDir, clock: new ManualClock(Date.parse('2026-03-15T12:00:00Z')), idempotencyWindowMs: 86_400_000, rollupFlushMs: 50 });
    try {
      const plan = await store.getPlan('old');
      assert.deepEqual([plan!.monthlyQuota, plan!.rateLimitPerMinute, plan!.limits, plan!.credits], [100, 10, [], null]);
      const group = await store.getGroup('g');
      assert.deepEqual([group!.limitOverrides, group!.limits], [{}, []]);
      const app = await store.getApp('a');
      assert.deepEqual([app!.monthlyQuota, app!.limitOverrides, app!.limits], [5, {}, []]);
      const changed = await store.updateGroup('g', { limitOverrides: { month: 500 } }, 2);
      assert.deepEqual(changed.limitOverrides, { month: 500 }, 'the new columns take writes');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
