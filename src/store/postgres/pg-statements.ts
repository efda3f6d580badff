import type { Pool } from 'pg';
import { LATEST_PERIOD_BOUND, mapStatement, statementPage } from '../catalog-rows.js';
import type { Page, PageRequest, StatementStore, StoredStatement } from '../store.js';

/**
 * Closed billing statements in PostgreSQL. Closing is insert-if-absent on
 * the (group, period) key, then a read: when instances close the same
 * period at once, the first insert wins and every instance answers with it.
 */
export class PgStatements implements StatementStore {
  constructor(private readonly pool: Pool) {}

  async closeStatement(s: StoredStatement): Promise<StoredStatement> {
    await this.pool.query(`INSERT INTO statements (group_id, period, period_start, period_end, closed_at, currency, total, document)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (group_id, period) DO NOTHING`,
    [s.groupId, s.period, s.start, s.end, s.closedAt, s.currency, s.total, s.document]);
    return (await this.getStatement(s.groupId, s.period))!;
  }

  async getStatement(groupId: string, period: string): Promise<StoredStatement | null> {
    const { rows } = await this.pool.query('SELECT * FROM statements WHERE group_id = $1 AND period = $2', [groupId, period]);
    return mapStatement(rows[0]);
  }

  async listStatements(groupId: string, page: PageRequest): Promise<Page<StoredStatement>> {
    const { rows } = await this.pool.query(
      'SELECT * FROM statements WHERE group_id = $1 AND period < $2 COLLATE "C" ORDER BY period COLLATE "C" DESC LIMIT $3',
      [groupId, page.after ?? LATEST_PERIOD_BOUND, page.limit + 1]);
    return statementPage(rows, page.limit);
  }
}
