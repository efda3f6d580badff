import type { Database as DB } from 'better-sqlite3';
import type { EndedSessionStore } from '../store.js';

/**
 * The embedded store's ended dashboard sessions. Written on the main thread
 * in IMMEDIATE transactions, like the catalogue (the writer thread may hold
 * the write lock); a sign-out is rare and its write tiny.
 */
export class SqliteEndedSessions implements EndedSessionStore {
  private readonly stmt: ReturnType<typeof prepare>;

  constructor(private readonly db: DB) {
    this.stmt = prepare(db);
  }

  async end(sid: string, expiresAt: number): Promise<void> {
    this.db.transaction(() => this.stmt.insert.run(sid, expiresAt)).immediate();
  }

  async isEnded(sid: string): Promise<boolean> {
    return this.stmt.find.get(sid) !== undefined;
  }

  async purge(before: number): Promise<number> {
    return this.db.transaction(() => this.stmt.purge.run(before).changes).immediate();
  }
}

function prepare(db: DB) {
  return {
    insert: db.prepare('INSERT INTO ended_sessions (sid, expires_at) VALUES (?, ?) ON CONFLICT (sid) DO NOTHING'),
    find: db.prepare('SELECT 1 FROM ended_sessions WHERE sid = ?'),
    purge: db.prepare('DELETE FROM ended_sessions WHERE expires_at < ?'),
  };
}
