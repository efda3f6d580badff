/**
 * The peer of the ingest benchmark: the plainest durable event store one
 * would write by hand. Fastify parses the JSON array, and one SQLite
 * transaction (WAL, synchronous=FULL, like Tollgate) inserts the events into
 * a table keyed by event id (INSERT OR IGNORE: deduplicated forever, never
 * pruned). No validation, no rollups, no quotas.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { reportStartFailure, send, stopOnSigterm } from './ipc.js';

try {
  const dir = process.env.PEER_DATA_DIR!;
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, 'peer.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, app_id TEXT, usage_type TEXT, count INTEGER, ts INTEGER) WITHOUT ROWID');
  const insert = db.prepare('INSERT OR IGNORE INTO events (id, app_id, usage_type, count, ts) VALUES (?, ?, ?, ?, ?)');
  const write = db.transaction((events: Array<{ id: string; app_id: string; usage_type: string; count?: number }>, now: number) => {
    let accepted = 0;
    for (const e of events) accepted += insert.run(e.id, e.app_id, e.usage_type, e.count ?? 1, now).changes;
    return accepted;
  });

  const app = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });
  app.post('/v1/events', async (request) => {
    const events = request.body as Array<{ id: string; app_id: string; usage_type: string; count?: number }>;
    const accepted = write(events, Date.now());
    return { accepted, duplicates: events.length - accepted, rejected: [] };
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  await send({ type: 'ready', url });
  stopOnSigterm('ingest-peer-server', () => ({}), async () => {
    await app.close();
    db.close();
  });
} catch (error) {
  await reportStartFailure(error);
}
