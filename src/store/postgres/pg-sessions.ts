import type { Pool } from 'pg';
import type { EndedSessionStore } from '../store.js';

/** The scale-out store's ended dashboard sessions, in PostgreSQL: a sign-out on one instance holds on every instance at once. */
export class PgEndedSessions implements EndedSessionStore {
  constructor(private readonly pool: Pool) {}

  async end(sid: string, expiresAt: number): Promise<void> {
    await this.pool.query('INSERT INTO ended_sessions (sid, expires_at) VALUES ($1, $2) ON CONFLICT (sid) DO NOTHING', [sid, expiresAt]);
  }

  async isEnded(sid: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM ended_sessions WHERE sid = $1', [sid]);
    return rowCount !== 0;
  }

  async purge(before: number): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM ended_sessions WHERE expires_at < $1', [before]);
    return rowCount ?? 0;
  }
}
