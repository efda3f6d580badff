import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/clock.js';
import { unitsFor } from '../../src/domain/counter-units.js';
import type { MeterRequest } from '../../src/domain/metering.js';
import { billingPeriod } from '../../src/domain/periods.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/sqlite/schema.js';

// The rollups of one app's and one key's usage per usage type came with schema version 7, which fills them from
// the events already stored: a file written before it seeds those counters exactly after the upgrade.

const T0 = Date.parse('2026-03-15T12:00:00Z');
const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const open = (dataDir: string) => new SqliteStore({ dataDir, clock: new ManualClock(T0), idempotencyWindowMs: 86_400_000, rollupFlushMs: 50 });
const call = (keyId: string, appId: string, usageType: string, cost: number, now: number, requestArgsHash = ''): MeterRequest => ({
  now, groupId: 'g', appId, keyId, limits: [], period: billingPeriod(now, 'UTC'), mode: 'record', usageType, requestArgsHash, cost,
});

/** A store with calls (with keys) and ingested events (without), over several buckets of each size. */
async function storeWithUsage(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-backfill-'));
  dirs.push(dataDir);
  const store = open(dataDir);
  for (const [i, request] of [
    call('k1', 'a1', 'image', 2, T0, 'x'), call('k1', 'a1', 'image', 3, T0 + 60_000, 'y'), call('k1', 'a1', 'pdf', 5, T0 + 20 * 60_000),
    call('k2', 'a1', 'image', 7, T0 + 3 * 3_600_000), call('k3', 'a2', 'pdf', 11, T0 + 86_400_000),
  ].entries()) assert.equal((await store.meter(request)).allowed, true, `call ${i}`);
  await store.ingest([
    { dedupKey: 'e1', ts: T0 + 5 * 60_000, groupId: 'g', appId: 'a1', usageType: 'image', requestArgsHash: '', count: 13 },
    { dedupKey: 'e2', ts: T0 + 2 * 86_400_000, groupId: 'g', appId: 'a2', usageType: 'audio', requestArgsHash: '', count: 17 },
  ]);
  await store.close();
  return dataDir;
}

/** The backfill's place in the migrations: the credits_low column of the alert settings comes after it. */
const BACKFILL = MIGRATIONS.length - 2;

/** Rolls the file back to before the backfill: its rollups without the new rows, and the later column dropped. */
function downgrade(dataDir: string, change: (db: Database.Database) => void = () => undefined): void {
  const db = new Database(join(dataDir, 'tollgate.db'));
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  for (const level of ['quarter', 'hour', 'day']) db.prepare(`DELETE FROM rollup_${level} WHERE dimension LIKE 'app:%' OR dimension LIKE 'key:%'`).run();
  change(db);
  db.exec('ALTER TABLE alert_settings DROP COLUMN credits_low');
  db.pragma(`user_version = ${BACKFILL}`);
  db.close();
}

function newRows(dataDir: string): unknown[] {
  const db = new Database(join(dataDir, 'tollgate.db'), { readonly: true });
  try {
    return ['quarter', 'hour', 'day'].flatMap((level) => db.prepare(`SELECT '${level}' AS level, * FROM rollup_${level}
      WHERE dimension LIKE 'app:%' OR dimension LIKE 'key:%' ORDER BY group_id, dimension, bucket, value`).all());
  } finally {
    db.close();
  }
}

test('the migration writes the rows the writer wrote: same buckets, counts and sole values', async () => {
  const dataDir = await storeWithUsage();
  const written = newRows(dataDir);
  assert.ok(written.length > 20, `${written.length} rows`);
  downgrade(dataDir);
  assert.deepEqual(newRows(dataDir), []);
  await open(dataDir).close();
  assert.deepEqual(newRows(dataDir), written);
  // Applied again over its own rows (a file whose version was set back), it replaces them.
  const db = new Database(join(dataDir, 'tollgate.db'));
  db.exec('ALTER TABLE alert_settings DROP COLUMN credits_low');
  db.pragma(`user_version = ${BACKFILL}`);
  db.close();
  await open(dataDir).close();
  assert.deepEqual(newRows(dataDir), written);
});

test('events past the rollup watermark (a crash before the rollups were written) are rolled up at open with every dimension', async () => {
  const dataDir = await storeWithUsage();
  downgrade(dataDir, (db) => {
    // Committed after the last rollup write: past the watermark.
    const insert = db.prepare(`INSERT INTO events (seq, ts, group_id, app_id, key_id, usage_type, request_args_hash, count, received_at)
      VALUES ((SELECT MAX(seq) + 1 FROM events), ?, 'g', ?, ?, ?, '', ?, ?)`);
    insert.run(T0 + 30 * 60_000, 'a1', 'k1', 'pdf', 19, T0);
    insert.run(T0 + 40 * 60_000, 'a2', null, 'audio', 23, T0);
  });
  const store = open(dataDir);
  try {
    const march = billingPeriod(T0, 'UTC');
    const units = (scope: 'group' | 'app' | 'key', scopeId: string, usageTypes: string[] | null) => unitsFor(store, { groupId: 'g', scope, scopeId, usageTypes }, march);
    assert.equal(await units('key', 'k1', null), 2 + 3 + 5 + 19);
    assert.equal(await units('key', 'k1', ['pdf']), 5 + 19);
    assert.equal(await units('key', 'k3', null), 11);
    assert.equal(await units('app', 'a1', ['image']), 2 + 3 + 7 + 13);
    assert.equal(await units('app', 'a2', ['audio']), 17 + 23);
    assert.equal(await units('app', 'a2', null), 11 + 17 + 23);
    assert.equal(await units('group', 'g', ['pdf']), 5 + 11 + 19);
    assert.equal(await units('group', 'g', null), 2 + 3 + 5 + 7 + 11 + 13 + 17 + 19 + 23);
  } finally {
    await store.close();
  }
});
