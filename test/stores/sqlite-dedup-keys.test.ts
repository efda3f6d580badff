import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { cloudEventDedupKey } from '../../src/ingest/cloudevents.js';
import { MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer } from '../helpers/server.js';

// The embedded store's CloudEvents dedup keys were `ce:<source>NUL<id>` before schema version 6, which
// rewrites them without NUL: an event accepted before an upgrade is still a duplicate after it.

/** The schema version before the rewrite of the CloudEvents dedup keys: the rewrite is MIGRATIONS[5]. */
const BEFORE_REWRITE = 5;

test('a CloudEvent accepted before the dedup keys lost their NUL is still a duplicate after the upgrade', async () => {
  let server = await startTestServer();
  try {
    const c = await setupCustomer(adminClient(server.url));
    const event = { specversion: '1.0', id: 'evt-ü-1', source: 'sørvis/converter', type: 'pdf', subject: c.appId, time: new Date().toISOString(), data: { count: 2 } };
    const send = () => request(`${server.url}/v1/events`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(event),
    });
    assert.deepEqual((await send()).body, { accepted: 1, duplicates: 0, rejected: [] });
    await server.close({ keepData: true });
    // The key as the older version wrote it, then the upgrade's rewrite applied to it (the later
    // migrations, which add columns and tables, cannot run twice on this file).
    const db = new Database(join(server.dataDir, 'tollgate.db'));
    const key = db.prepare("SELECT key FROM event_keys WHERE key LIKE 'ce:%'").pluck().get();
    assert.equal(key, cloudEventDedupKey(event.source, event.id));
    db.prepare('UPDATE event_keys SET key = ? WHERE key = ?').run(`ce:${event.source}\u0000${event.id}`, key);
    db.exec(MIGRATIONS[BEFORE_REWRITE]!);
    db.close();
    server = await startTestServer({ dataDir: server.dataDir });
    assert.deepEqual((await send()).body, { accepted: 0, duplicates: 1, rejected: [] });
    const usage = await request(`${server.url}/v1/usage`, { headers: { 'x-api-key': c.key } });
    assert.equal(usage.body.monthly_used, 2);
  } finally {
    await server.close();
  }
});
