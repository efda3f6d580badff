import type { Database as DB } from 'better-sqlite3';
import { LATEST_PERIOD_BOUND, mapStatement, statementPage } from '../catalog-rows.js';
import type { Page, PageRequest, StatementStore, StoredStatement } from '../store.js';

/** Closed billing statements in the embedded store's file: written once, by the main thread. */
export class SqliteStatements implements StatementStore {
  private readonly stmt;

  constructor(private readonly db: DB) {
    this.stmt = {
      insert: db.prepare(`INSERT INTO statements (group_id, period, period_start, period_end, closed_at, currency, total, document)
        VALUES (@groupId, @period, @start, @end, @closedAt, @currency, @total, @document) ON CONFLICT (group_id, period) DO NOTHING`),
      get: db.prepare('SELECT * FROM statements WHERE group_id = ? AND period = ?'),
      list: db.prepare('SELECT * FROM statements WHERE group_id = ? AND period < ? ORDER BY period DESC LIMIT ?'),
    };
  }

  async closeStatement(statement: StoredStatement): Promise<StoredStatement> {
    // IMMEDIATE, as for the catalogue: the writer thread may hold the write lock.
    return this.db.transaction(() => {
      this.stmt.insert.run(statement);
      return mapStatement(this.stmt.get.get(statement.groupId, statement.period))!;
    }).immediate();
  }

  async getStatement(groupId: string, period: string): Promise<StoredStatement | null> {
    return mapStatement(this.stmt.get.get(groupId, period));
  }

  async listStatements(groupId: string, page: PageRequest): Promise<Page<StoredStatement>> {
    return statementPage(this.stmt.list.all(groupId, page.after ?? LATEST_PERIOD_BOUND, page.limit + 1), page.limit);
  }
}
