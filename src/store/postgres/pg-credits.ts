import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './pg-transaction.js';
import { periodGrantsToIssue, periodGrantKey, type CreditGrant, type GrantToIssue, type PeriodGrant } from '../../domain/credits.js';
import type { Span } from '../../domain/periods.js';
import { newSortableId } from '../../domain/secrets.js';
import { pageOf } from '../alert-rows.js';
import { CreditListeners, creditRefusals, GRANT_COLUMNS, grantValues, manualGrant, mapGrant, replayedGrant } from '../credit-rows.js';
import type { CreditState, CreditStore, NewCreditGrant, Page, PageRequest } from '../store.js';

/** A grant read with LIVE: what it has used, folded or not. */
function liveGrant(row: unknown): CreditGrant | null {
  const grant = mapGrant(row);
  return grant === null ? null : { ...grant, used: grant.used + Number((row as { unfolded: unknown }).unfolded ?? 0) };
}

const INSERT_GRANT = `INSERT INTO credit_grants (${GRANT_COLUMNS}) VALUES (${GRANT_COLUMNS.split(',').map((_, i) => `$${i + 1}`).join(', ')})`;
/** A grant row with the uses not yet folded into its `used` (see liveGrant): select it from `credit_grants g`. */
const LIVE = 'g.*, (SELECT SUM(u.amount) FROM credit_uses u WHERE u.grant_id = g.id) AS unfolded';
const BY_KEY = `SELECT ${LIVE} FROM credit_grants g WHERE group_id = $1 AND source = $2 AND idempotency_key = $3`;

/** Any fixed 64-bit number: the advisory lock of the instance folding credit uses. */
const FOLD_LOCK = 7_310_924_612;

/**
 * The scale-out store's credit grants and debts in PostgreSQL, shared by
 * every instance: a grant under an idempotency key, or a period's recurring
 * grant, is written once whichever instances ask at once (the unique key,
 * and ON CONFLICT DO NOTHING, which waits for the first writer's commit).
 *
 * What events use of the grants is appended to credit_uses by the usage
 * writer (PgUsage); every read adds the rows not yet folded into
 * `credit_grants.used` and `credit_debts.debt`, in the same statement (one
 * snapshot), and `fold` moves them there in one statement, so a read sees
 * each use exactly once, before or after the fold.
 */
export class PgCredits implements CreditStore {
  private readonly listeners = new CreditListeners();

  constructor(private readonly pool: Pool) {}

  onChange(listener: (groupId: string) => void | Promise<void>): void {
    this.listeners.add(listener);
  }

  async grant(groupId: string, grant: NewCreditGrant, now: number): Promise<{ grant: CreditGrant; created: boolean }> {
    const inserted = await this.insert(this.pool, groupId, manualGrant(grant), now);
    if (inserted !== null) {
      await this.listeners.changed(groupId);
      return { grant: inserted, created: true };
    }
    const { rows } = await this.pool.query(BY_KEY, [groupId, 'manual', grant.idempotencyKey]);
    return replayedGrant(liveGrant(rows[0])!, grant);
  }

  async listGrants(groupId: string, page: PageRequest, options: { includeVoided?: boolean } = {}): Promise<Page<CreditGrant>> {
    await this.requireGroup(groupId);
    const { rows } = await this.pool.query(`SELECT ${LIVE} FROM credit_grants g WHERE group_id = $1 AND id > $2 COLLATE "C" AND ($3 OR voided_at IS NULL)
      ORDER BY id COLLATE "C" LIMIT $4`, [groupId, page.after ?? '', options.includeVoided === true, page.limit + 1]);
    return pageOf(rows.map((r) => liveGrant(r)!), page.limit);
  }

  async getGrant(groupId: string, grantId: string): Promise<CreditGrant | null> {
    const { rows } = await this.pool.query(`SELECT ${LIVE} FROM credit_grants g WHERE id = $1 AND group_id = $2`, [grantId, groupId]);
    return liveGrant(rows[0]);
  }

  async voidGrant(groupId: string, grantId: string, now: number): Promise<CreditGrant> {
    const { rows } = await this.pool.query(`UPDATE credit_grants g SET voided_at = COALESCE(voided_at, $1) WHERE id = $2 AND group_id = $3 RETURNING ${LIVE}`,
      [now, grantId, groupId]);
    if (rows.length === 0) throw creditRefusals.noGrant(groupId, grantId);
    await this.listeners.changed(groupId);
    return liveGrant(rows[0])!;
  }

  async creditState(groupId: string): Promise<CreditState> {
    // One statement, one snapshot: the grants' use and the debt as the same commits left them.
    const { rows } = await this.pool.query(`SELECT (SELECT debt FROM credit_debts WHERE group_id = $1) AS debt,
        (SELECT SUM(amount) FROM credit_uses WHERE group_id = $1) AS unfolded_debt, ${LIVE}
      FROM (SELECT 1) AS one LEFT JOIN credit_grants g ON g.group_id = $1 AND g.voided_at IS NULL ORDER BY g.id COLLATE "C"`, [groupId]);
    return { grants: rows.filter((r) => r.id !== null).map((r) => liveGrant(r)!), debt: Number(rows[0]!.debt ?? 0) + Number(rows[0]!.unfolded_debt ?? 0) };
  }

  async issuePeriodGrant(groupId: string, config: PeriodGrant, period: Span, now: number): Promise<{ grant: CreditGrant; created: boolean }> {
    const result = await inTransaction(this.pool, async (client) => {
      const previous = liveGrant((await client.query(`SELECT ${LIVE} FROM credit_grants g
        WHERE group_id = $1 AND source = 'period' AND period_start < $2 AND idempotency_key LIKE 'period:%' AND voided_at IS NULL
        ORDER BY period_start DESC LIMIT 1 FOR UPDATE OF g`, [groupId, period.start])).rows[0]);
      const plan = periodGrantsToIssue(config, period, previous);
      // Ids in the order the grants are spent (the carried-over one first), though the period's own is inserted first.
      const ids = plan.grants.map(() => newSortableId('crg', now));
      // The period's own grant first: of instances issuing at once, the one whose insert lands goes on, the others find it issued.
      const main = await this.insert(client, groupId, plan.grants[plan.grants.length - 1]!, now, ids[ids.length - 1]);
      if (main === null) return null;
      if (plan.expirePrevious) await client.query('UPDATE credit_grants SET expires_at = $1 WHERE id = $2', [period.start, previous!.id]);
      for (const [i, g] of plan.grants.slice(0, -1).entries()) await this.insert(client, groupId, g, now, ids[i]);
      return main;
    });
    if (result !== null) {
      void this.listeners.changed(groupId); // not awaited: it is issued while the limiter reads the credits it would re-read
      return { grant: result, created: true };
    }
    const { rows } = await this.pool.query(BY_KEY, [groupId, 'period', periodGrantKey(period.start)]);
    return { grant: mapGrant(rows[0])!, created: false };
  }

  /**
   * Moves the credit uses into the grants' `used` and the groups' debts: one
   * statement deletes the rows its snapshot sees and adds them up where they
   * belong, so rows appended meanwhile wait for the next fold. One instance
   * folds at a time (an advisory lock; the others skip their turn).
   */
  async fold(): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ mine: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS mine', [FOLD_LOCK]);
      if (!rows[0]!.mine) return;
      await client.query(`WITH
        moved AS (DELETE FROM credit_uses RETURNING grant_id, group_id, amount),
        per_grant AS (SELECT grant_id, SUM(amount) AS d FROM moved WHERE grant_id IS NOT NULL GROUP BY grant_id),
        per_group AS (SELECT group_id, SUM(amount) AS d FROM moved WHERE group_id IS NOT NULL GROUP BY group_id),
        used AS (UPDATE credit_grants g SET used = g.used + p.d FROM per_grant p WHERE g.id = p.grant_id RETURNING 1),
        debts AS (INSERT INTO credit_debts AS c (group_id, debt) SELECT group_id, d FROM per_group ORDER BY group_id COLLATE "C"
          ON CONFLICT (group_id) DO UPDATE SET debt = c.debt + EXCLUDED.debt RETURNING 1)
        SELECT (SELECT count(*) FROM used) AS grants, (SELECT count(*) FROM debts) AS debts`);
    });
  }

  /** Inserts the grant; null when its idempotency key is taken (a concurrent insert of it is waited for first). */
  private async insert(db: Pool | PoolClient, groupId: string, grant: GrantToIssue, now: number, id = newSortableId('crg', now)): Promise<CreditGrant | null> {
    try {
      const { rows } = await db.query(`${INSERT_GRANT} ON CONFLICT (group_id, source, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING *`,
        grantValues(id, groupId, grant, now));
      return mapGrant(rows[0]);
    } catch (error) {
      if ((error as { code?: string }).code === '23503') throw creditRefusals.noGroup(groupId);
      throw error;
    }
  }

  private async requireGroup(groupId: string): Promise<void> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM customer_groups WHERE id = $1', [groupId]);
    if (rowCount === 0) throw creditRefusals.noGroup(groupId);
  }
}
