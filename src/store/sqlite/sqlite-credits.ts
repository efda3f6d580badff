import type { Database as DB } from 'better-sqlite3';
import { periodGrantsToIssue, periodGrantKey, type CreditGrant, type GrantToIssue, type PeriodGrant } from '../../domain/credits.js';
import type { Span } from '../../domain/periods.js';
import { newSortableId } from '../../domain/secrets.js';
import { pageOf } from '../alert-rows.js';
import { CreditListeners, creditRefusals, GRANT_COLUMNS, grantValues, manualGrant, mapGrant, replayedGrant } from '../credit-rows.js';
import type { CreditState, CreditStore, NewCreditGrant, Page, PageRequest } from '../store.js';

/**
 * The embedded store's credit grants and debts. Grants are written on the
 * main thread in IMMEDIATE transactions, like the catalogue; their use and
 * the debt are written by the writer thread, with the events.
 */
export class SqliteCredits implements CreditStore {
  private readonly stmt: ReturnType<typeof prepare>;
  private readonly listeners = new CreditListeners();

  constructor(private readonly db: DB) {
    this.stmt = prepare(db);
  }

  onChange(listener: (groupId: string) => void | Promise<void>): void {
    this.listeners.add(listener);
  }

  async grant(groupId: string, grant: NewCreditGrant, now: number): Promise<{ grant: CreditGrant; created: boolean }> {
    const result = this.write(() => {
      this.requireGroup(groupId);
      if (grant.idempotencyKey !== null) {
        const existing = mapGrant(this.stmt.byKey.get(groupId, 'manual', grant.idempotencyKey));
        if (existing !== null) return replayedGrant(existing, grant);
      }
      return { grant: this.insert(groupId, manualGrant(grant), now), created: true };
    });
    if (result.created) await this.listeners.changed(groupId);
    return result;
  }

  async listGrants(groupId: string, page: PageRequest, options: { includeVoided?: boolean } = {}): Promise<Page<CreditGrant>> {
    this.requireGroup(groupId);
    const rows = this.stmt.list.all(groupId, page.after ?? '', options.includeVoided === true ? 1 : 0, page.limit + 1);
    return pageOf(rows.map((r) => mapGrant(r)!), page.limit);
  }

  async getGrant(groupId: string, grantId: string): Promise<CreditGrant | null> {
    return mapGrant(this.stmt.get.get(grantId, groupId));
  }

  async voidGrant(groupId: string, grantId: string, now: number): Promise<CreditGrant> {
    const voided = this.write(() => {
      if (this.stmt.void.run(now, grantId, groupId).changes === 0) throw creditRefusals.noGrant(groupId, grantId);
      return mapGrant(this.stmt.get.get(grantId, groupId))!;
    });
    await this.listeners.changed(groupId);
    return voided;
  }

  async creditState(groupId: string): Promise<CreditState> {
    // One read transaction: the grants' use and the debt as the same commit of the writer thread left them.
    return this.db.transaction(() => ({
      grants: this.stmt.unvoided.all(groupId).map((r) => mapGrant(r)!),
      debt: (this.stmt.debt.get(groupId) as number | undefined) ?? 0,
    }))();
  }

  async issuePeriodGrant(groupId: string, config: PeriodGrant, period: Span, now: number): Promise<{ grant: CreditGrant; created: boolean }> {
    const result = this.write(() => {
      const issued = mapGrant(this.stmt.byKey.get(groupId, 'period', periodGrantKey(period.start)));
      if (issued !== null) return { grant: issued, created: false };
      this.requireGroup(groupId);
      const previous = mapGrant(this.stmt.previousPeriodGrant.get(groupId, period.start));
      const plan = periodGrantsToIssue(config, period, previous);
      if (plan.expirePrevious) this.stmt.expire.run(period.start, previous!.id);
      const grants = plan.grants.map((g) => this.insert(groupId, g, now));
      return { grant: grants[grants.length - 1]!, created: true };
    });
    if (result.created) void this.listeners.changed(groupId); // not awaited: it is issued while the limiter reads the credits it would re-read
    return result;
  }

  private insert(groupId: string, grant: GrantToIssue, now: number): CreditGrant {
    const id = newSortableId('crg', now);
    this.stmt.insert.run(...grantValues(id, groupId, grant, now));
    return mapGrant(this.stmt.get.get(id, groupId))!;
  }

  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private requireGroup(groupId: string): void {
    if (this.stmt.groupExists.get(groupId) === undefined) throw creditRefusals.noGroup(groupId);
  }
}

function prepare(db: DB) {
  return {
    groupExists: db.prepare('SELECT 1 FROM customer_groups WHERE id = ?'),
    insert: db.prepare(`INSERT INTO credit_grants (${GRANT_COLUMNS}) VALUES (${GRANT_COLUMNS.split(',').map(() => '?').join(', ')})`),
    get: db.prepare('SELECT * FROM credit_grants WHERE id = ? AND group_id = ?'),
    byKey: db.prepare('SELECT * FROM credit_grants WHERE group_id = ? AND source = ? AND idempotency_key = ?'),
    list: db.prepare('SELECT * FROM credit_grants WHERE group_id = ? AND id > ? AND (? = 1 OR voided_at IS NULL) ORDER BY id LIMIT ?'),
    unvoided: db.prepare('SELECT * FROM credit_grants WHERE group_id = ? AND voided_at IS NULL ORDER BY id'),
    debt: db.prepare('SELECT debt FROM credit_debts WHERE group_id = ?').pluck(),
    void: db.prepare('UPDATE credit_grants SET voided_at = COALESCE(voided_at, ?) WHERE id = ? AND group_id = ?'),
    expire: db.prepare('UPDATE credit_grants SET expires_at = ? WHERE id = ?'),
    previousPeriodGrant: db.prepare(`SELECT * FROM credit_grants
      WHERE group_id = ? AND source = 'period' AND period_start < ? AND idempotency_key LIKE 'period:%' AND voided_at IS NULL
      ORDER BY period_start DESC LIMIT 1`),
  };
}
