import pg, { type Pool, type QueryResultRow } from 'pg';
import type { App, Group, Key, KeyContext, Plan, ServiceToken } from '../../domain/types.js';
import { defined, limitColumns, mapApp, mapGroup, mapKey, mapPlan, mapToken, withLimitDefaults, withPlanDefaults } from '../catalog-rows.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import type { AppPatch, CatalogStore, GroupPatch, NewApp, NewGroup, NewKey, NewPlan, NewServiceToken, Page, PageRequest, PlanPatch } from '../store.js';

/** BIGINT columns hold milliseconds and limits, all far below 2^53: read them as numbers. */
export const PG_TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format),
};

const KEY_COLUMNS = 'k.id, k.app_id, a.group_id, k.name, k.hint, k.created_at, k.expires_at, k.revoked_at';

/**
 * The scale-out store's catalogue (plans, groups, apps, keys, service
 * tokens) in PostgreSQL, shared by every instance. Ids sort bytewise
 * (COLLATE "C"), as in the embedded store, so pages come in the same order.
 */
export class PgCatalog implements CatalogStore {
  constructor(private readonly pool: Pool) {}

  async createPlan(newPlan: NewPlan, now: number): Promise<Plan> {
    const plan = withPlanDefaults(newPlan);
    const { limitsJson, creditsJson } = limitColumns(plan);
    await this.insert(`INSERT INTO plans (id, monthly_quota, rate_limit_per_minute, price_per_call, time_zone, created_at, updated_at, currency, prices,
        limits, credits)
      VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)`,
    [plan.id, plan.monthlyQuota, plan.rateLimitPerMinute, plan.pricePerCall, plan.timeZone, now, plan.currency, JSON.stringify(plan.prices),
      limitsJson, creditsJson],
    `A plan with id "${plan.id}" already exists.`);
    return this.require(await this.getPlan(plan.id), 'plan', plan.id);
  }

  async getPlan(id: string): Promise<Plan | null> {
    return mapPlan(await this.one('SELECT * FROM plans WHERE id = $1', [id]));
  }

  async listPlans(page: PageRequest): Promise<Page<Plan>> {
    return this.page('SELECT * FROM plans WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2', [], page, (r) => mapPlan(r)!);
  }

  async updatePlan(id: string, patch: PlanPatch, now: number): Promise<Plan> {
    const next = { ...this.require(await this.getPlan(id), 'plan', id), ...defined(patch) };
    const { limitsJson, creditsJson } = limitColumns(next);
    await this.pool.query(`UPDATE plans SET monthly_quota = $2, rate_limit_per_minute = $3, price_per_call = $4, time_zone = $5, updated_at = $6,
      currency = $7, prices = $8, limits = $9, credits = $10 WHERE id = $1`,
    [id, next.monthlyQuota, next.rateLimitPerMinute, next.pricePerCall, next.timeZone, now, next.currency, JSON.stringify(next.prices), limitsJson, creditsJson]);
    return this.require(await this.getPlan(id), 'plan', id);
  }

  async createGroup(group: NewGroup, now: number): Promise<Group> {
    this.require(await this.getPlan(group.planId), 'plan', group.planId);
    const { limitOverridesJson, limitsJson } = limitColumns(withLimitDefaults(group));
    await this.insert('INSERT INTO customer_groups (id, name, plan_id, created_at, updated_at, limit_overrides, limits) VALUES ($1, $2, $3, $4, $4, $5, $6)',
      [group.id, group.name, group.planId, now, limitOverridesJson, limitsJson], `A group with id "${group.id}" already exists.`);
    return this.require(await this.getGroup(group.id), 'group', group.id);
  }

  async getGroup(id: string): Promise<Group | null> {
    return mapGroup(await this.one('SELECT * FROM customer_groups WHERE id = $1', [id]));
  }

  async listGroups(page: PageRequest): Promise<Page<Group>> {
    return this.page('SELECT * FROM customer_groups WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2', [], page, (r) => mapGroup(r)!);
  }

  async updateGroup(id: string, patch: GroupPatch, now: number): Promise<Group> {
    const next = { ...this.require(await this.getGroup(id), 'group', id), ...defined(patch) };
    this.require(await this.getPlan(next.planId), 'plan', next.planId);
    const { limitOverridesJson, limitsJson } = limitColumns(next);
    await this.pool.query('UPDATE customer_groups SET name = $2, plan_id = $3, updated_at = $4, limit_overrides = $5, limits = $6 WHERE id = $1',
      [id, next.name, next.planId, now, limitOverridesJson, limitsJson]);
    return this.require(await this.getGroup(id), 'group', id);
  }

  async createApp(app: NewApp, now: number): Promise<App> {
    this.require(await this.getGroup(app.groupId), 'group', app.groupId);
    const { limitOverridesJson, limitsJson } = limitColumns(withLimitDefaults(app));
    await this.insert(`INSERT INTO apps (id, group_id, name, monthly_quota, rate_limit_per_minute, created_at, updated_at, limit_overrides, limits)
      VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)`, [app.id, app.groupId, app.name, app.monthlyQuota, app.rateLimitPerMinute, now, limitOverridesJson, limitsJson],
    `An app with id "${app.id}" already exists.`);
    return this.require(await this.getApp(app.id), 'app', app.id);
  }

  async getApp(id: string): Promise<App | null> {
    return mapApp(await this.one('SELECT * FROM apps WHERE id = $1', [id]));
  }

  async listApps(groupId: string | null, page: PageRequest): Promise<Page<App>> {
    if (groupId === null) return this.page('SELECT * FROM apps WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2', [], page, (r) => mapApp(r)!);
    return this.page('SELECT * FROM apps WHERE group_id = $3 AND id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2', [groupId], page, (r) => mapApp(r)!);
  }

  async updateApp(id: string, patch: AppPatch, now: number): Promise<App> {
    const next = { ...this.require(await this.getApp(id), 'app', id), ...defined(patch) };
    const { limitOverridesJson, limitsJson } = limitColumns(next);
    await this.pool.query(`UPDATE apps SET name = $2, monthly_quota = $3, rate_limit_per_minute = $4, disabled_at = $5, updated_at = $6,
      limit_overrides = $7, limits = $8 WHERE id = $1`,
    [id, next.name, next.monthlyQuota, next.rateLimitPerMinute, next.disabledAt, now, limitOverridesJson, limitsJson]);
    return this.require(await this.getApp(id), 'app', id);
  }

  async createKey(key: NewKey): Promise<Key> {
    this.require(await this.getApp(key.appId), 'app', key.appId);
    await this.insert(`INSERT INTO api_keys (id, app_id, name, hint, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [key.id, key.appId, key.name, key.hint, key.secretHash, key.createdAt, key.expiresAt], `A key with id "${key.id}" already exists.`);
    return this.require(await this.getKey(key.id), 'key', key.id);
  }

  async getKey(id: string): Promise<Key | null> {
    return mapKey(await this.one(`SELECT ${KEY_COLUMNS} FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.id = $1`, [id]));
  }

  async listKeys(appId: string | null, page: PageRequest): Promise<Page<Key>> {
    const from = `SELECT ${KEY_COLUMNS} FROM api_keys k JOIN apps a ON a.id = k.app_id`;
    if (appId === null) return this.page(`${from} WHERE k.id > $1 COLLATE "C" ORDER BY k.id COLLATE "C" LIMIT $2`, [], page, (r) => mapKey(r)!);
    return this.page(`${from} WHERE k.app_id = $3 AND k.id > $1 COLLATE "C" ORDER BY k.id COLLATE "C" LIMIT $2`, [appId], page, (r) => mapKey(r)!);
  }

  async revokeKey(id: string, now: number): Promise<Key> {
    this.require(await this.getKey(id), 'key', id);
    await this.pool.query('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1', [id, now]);
    return this.require(await this.getKey(id), 'key', id);
  }

  async findKeyContext(secretHash: string): Promise<KeyContext | null> {
    const row = await this.one(`SELECT
        row_to_json(k) AS k, row_to_json(a) AS a, row_to_json(g) AS g, row_to_json(p) AS p
      FROM api_keys k JOIN apps a ON a.id = k.app_id JOIN customer_groups g ON g.id = a.group_id JOIN plans p ON p.id = g.plan_id
      WHERE k.secret_hash = $1`, [secretHash]);
    if (row === null) return null;
    const g = row.g as Record<string, unknown>;
    return {
      key: mapKey({ ...(row.k as object), group_id: g.id })!,
      app: mapApp(row.a)!,
      group: mapGroup(g)!,
      plan: mapPlan(row.p)!,
    };
  }

  async createServiceToken(token: NewServiceToken): Promise<ServiceToken> {
    await this.insert('INSERT INTO service_tokens (id, name, hint, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)',
      [token.id, token.name, token.hint, token.secretHash, token.createdAt], `A service token with id "${token.id}" already exists.`);
    return mapToken(await this.one('SELECT * FROM service_tokens WHERE id = $1', [token.id]))!;
  }

  async listServiceTokens(page: PageRequest): Promise<Page<ServiceToken>> {
    return this.page('SELECT * FROM service_tokens WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2', [], page, (r) => mapToken(r)!);
  }

  async revokeServiceToken(id: string, now: number): Promise<ServiceToken> {
    const { rowCount } = await this.pool.query('UPDATE service_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1', [id, now]);
    if (rowCount === 0) throw new NotFoundError(`No service token with id "${id}".`);
    return mapToken(await this.one('SELECT * FROM service_tokens WHERE id = $1', [id]))!;
  }

  async findServiceToken(secretHash: string): Promise<ServiceToken | null> {
    return mapToken(await this.one('SELECT * FROM service_tokens WHERE secret_hash = $1', [secretHash]));
  }

  // ------------------------------------------------------------ helpers

  private async one(sql: string, params: unknown[]): Promise<QueryResultRow | null> {
    const { rows } = await this.pool.query(sql, params);
    return rows[0] ?? null;
  }

  private async page<T>(sql: string, extra: unknown[], page: PageRequest, map: (row: QueryResultRow) => T): Promise<Page<T>> {
    const { rows } = await this.pool.query(sql, [page.after ?? '', page.limit + 1, ...extra]);
    const items = rows.slice(0, page.limit).map(map);
    const last = items[items.length - 1] as { id: string } | undefined;
    return { items, next: rows.length > page.limit && last ? last.id : null };
  }

  private async insert(sql: string, params: unknown[], conflict: string): Promise<void> {
    try {
      await this.pool.query(sql, params);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new ConflictError(conflict);
      throw error;
    }
  }

  private require<T>(value: T | null, kind: string, id: string): T {
    if (value === null) throw new NotFoundError(`No ${kind} with id "${id}".`);
    return value;
  }
}
