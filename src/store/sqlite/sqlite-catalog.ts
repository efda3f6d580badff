import Database, { type Database as DB, type Statement } from 'better-sqlite3';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import type { App, Group, Key, KeyContext, Plan, ServiceToken } from '../../domain/types.js';
import { defined, limitColumns, mapApp, mapGroup, mapKey, mapPlan, mapToken, withLimitDefaults, withPlanDefaults } from '../catalog-rows.js';
import { LookupMemo } from '../lookup-memo.js';
import type {
  AppPatch, CatalogStore, GroupPatch, NewApp, NewGroup, NewKey, NewPlan, NewServiceToken, Page, PageRequest, PlanPatch,
} from '../store.js';

const CACHE_LIMIT = 100_000;

/**
 * The catalogue (plans, groups, apps, keys, service tokens) in the embedded
 * store's SQLite file, written by the main thread. The lookups every call
 * makes (a key by its secret's hash, a token, an app) are memoised, and
 * dropped whenever the catalogue changes.
 */
export class SqliteCatalog implements CatalogStore {
  /** Lookups on every call (by secret hash, by app id); dropped whenever the catalogue changes. */
  private readonly keyCache = new LookupMemo<KeyContext | null>(CACHE_LIMIT, (v) => v === null);
  private readonly tokenCache = new LookupMemo<ServiceToken | null>(CACHE_LIMIT, (v) => v === null);
  private readonly appCache = new LookupMemo<App | null>(CACHE_LIMIT, (v) => v === null);
  private readonly stmt: ReturnType<typeof prepare>;

  constructor(private readonly db: DB) {
    this.stmt = prepare(db);
  }

  async createPlan(plan: NewPlan, now: number): Promise<Plan> {
    return this.mutate(() => {
      this.insertOrConflict(() => this.insertPlan(withPlanDefaults(plan), now), `A plan with id "${plan.id}" already exists.`);
      return this.requirePlan(plan.id);
    });
  }

  private insertPlan(plan: Omit<Plan, 'createdAt' | 'updatedAt'>, now: number): void {
    this.stmt.insertPlan.run({ ...plan, ...planJson(plan), createdAt: now, updatedAt: now });
  }

  async getPlan(id: string): Promise<Plan | null> {
    return mapPlan(this.stmt.getPlan.get(id));
  }

  async listPlans(page: PageRequest): Promise<Page<Plan>> {
    return paginate(this.stmt.listPlans, [], page, (r) => mapPlan(r)!);
  }

  async updatePlan(id: string, patch: PlanPatch, now: number): Promise<Plan> {
    return this.mutate(() => {
      const next = { ...this.requirePlan(id), ...defined(patch), updatedAt: now };
      this.stmt.updatePlan.run({ ...next, ...planJson(next) });
      return this.requirePlan(id);
    });
  }

  async createGroup(group: NewGroup, now: number): Promise<Group> {
    return this.mutate(() => {
      this.requirePlan(group.planId);
      this.insertOrConflict(() => this.stmt.insertGroup.run({ ...withJson(withLimitDefaults(group)), createdAt: now, updatedAt: now }), `A group with id "${group.id}" already exists.`);
      return this.requireGroup(group.id);
    });
  }

  async getGroup(id: string): Promise<Group | null> {
    return mapGroup(this.stmt.getGroup.get(id));
  }

  async listGroups(page: PageRequest): Promise<Page<Group>> {
    return paginate(this.stmt.listGroups, [], page, (r) => mapGroup(r)!);
  }

  async updateGroup(id: string, patch: GroupPatch, now: number): Promise<Group> {
    return this.mutate(() => {
      const next = { ...this.requireGroup(id), ...defined(patch), updatedAt: now };
      this.requirePlan(next.planId);
      this.stmt.updateGroup.run(withJson(next));
      return this.requireGroup(id);
    });
  }

  async createApp(app: NewApp, now: number): Promise<App> {
    return this.mutate(() => {
      this.requireGroup(app.groupId);
      this.insertOrConflict(() => this.stmt.insertApp.run({ ...withJson(withLimitDefaults(app)), createdAt: now, updatedAt: now }), `An app with id "${app.id}" already exists.`);
      return this.requireApp(app.id);
    });
  }

  async getApp(id: string): Promise<App | null> {
    // Every ingested batch looks up the apps it names.
    return cached(this.appCache, id, () => mapApp(this.stmt.getApp.get(id)));
  }

  async listApps(groupId: string | null, page: PageRequest): Promise<Page<App>> {
    if (groupId === null) return paginate(this.stmt.listApps, [], page, (r) => mapApp(r)!);
    return paginate(this.stmt.listAppsOfGroup, [groupId], page, (r) => mapApp(r)!);
  }

  async updateApp(id: string, patch: AppPatch, now: number): Promise<App> {
    return this.mutate(() => {
      const next = { ...this.requireApp(id), ...defined(patch), updatedAt: now };
      this.stmt.updateApp.run(withJson(next));
      return this.requireApp(id);
    });
  }

  async createKey(key: NewKey): Promise<Key> {
    return this.mutate(() => {
      this.requireApp(key.appId);
      this.insertOrConflict(() => this.stmt.insertKey.run(key), `A key with id "${key.id}" already exists.`);
      return this.requireKey(key.id);
    });
  }

  async getKey(id: string): Promise<Key | null> {
    return mapKey(this.stmt.getKey.get(id));
  }

  async listKeys(appId: string | null, page: PageRequest): Promise<Page<Key>> {
    if (appId === null) return paginate(this.stmt.listKeys, [], page, (r) => mapKey(r)!);
    return paginate(this.stmt.listKeysOfApp, [appId], page, (r) => mapKey(r)!);
  }

  async revokeKey(id: string, now: number): Promise<Key> {
    return this.mutate(() => {
      this.requireKey(id);
      this.stmt.revokeKey.run({ id, now });
      return this.requireKey(id);
    });
  }

  async findKeyContext(secretHash: string): Promise<KeyContext | null> {
    return cached(this.keyCache, secretHash, () => mapKeyContext(this.stmt.keyContext.get(secretHash)));
  }

  async createServiceToken(token: NewServiceToken): Promise<ServiceToken> {
    return this.mutate(() => {
      this.insertOrConflict(() => this.stmt.insertToken.run(token), `A service token with id "${token.id}" already exists.`);
      return mapToken(this.stmt.getToken.get(token.id))!;
    });
  }

  async listServiceTokens(page: PageRequest): Promise<Page<ServiceToken>> {
    return paginate(this.stmt.listTokens, [], page, (r) => mapToken(r)!);
  }

  async revokeServiceToken(id: string, now: number): Promise<ServiceToken> {
    return this.mutate(() => {
      if (this.stmt.getToken.get(id) === undefined) throw new NotFoundError(`No service token with id "${id}".`);
      this.stmt.revokeToken.run({ id, now });
      return mapToken(this.stmt.getToken.get(id))!;
    });
  }

  async findServiceToken(secretHash: string): Promise<ServiceToken | null> {
    return cached(this.tokenCache, secretHash, () => mapToken(this.stmt.findToken.get(secretHash)));
  }

  /** Runs a catalogue change and drops cached key contexts, which it may have changed. */
  private mutate<T>(fn: () => T): T {
    // IMMEDIATE: take the write lock up front (waiting out the writer thread);
    // a deferred transaction that reads first cannot wait for it when it upgrades.
    const result = this.db.transaction(fn).immediate();
    this.keyCache.clear();
    this.tokenCache.clear();
    this.appCache.clear();
    return result;
  }

  private insertOrConflict(fn: () => unknown, message: string): void {
    try {
      fn();
    } catch (error) {
      if (error instanceof Database.SqliteError && /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/.test(error.code)) {
        throw new ConflictError(message);
      }
      throw error;
    }
  }

  private requirePlan(id: string): Plan {
    const plan = mapPlan(this.stmt.getPlan.get(id));
    if (plan === null) throw new NotFoundError(`No plan with id "${id}".`);
    return plan;
  }

  private requireGroup(id: string): Group {
    const group = mapGroup(this.stmt.getGroup.get(id));
    if (group === null) throw new NotFoundError(`No group with id "${id}".`);
    return group;
  }

  private requireApp(id: string): App {
    const app = mapApp(this.stmt.getApp.get(id));
    if (app === null) throw new NotFoundError(`No app with id "${id}".`);
    return app;
  }

  private requireKey(id: string): Key {
    const key = mapKey(this.stmt.getKey.get(id));
    if (key === null) throw new NotFoundError(`No key with id "${id}".`);
    return key;
  }
}

function prepare(db: DB) {
  const KEY_COLUMNS = 'k.id, k.app_id, a.group_id, k.name, k.hint, k.created_at, k.expires_at, k.revoked_at';
  return {
    insertPlan: db.prepare(`INSERT INTO plans (id, monthly_quota, rate_limit_per_minute, price_per_call, currency, prices, time_zone, limits, credits,
        created_at, updated_at)
      VALUES (@id, @monthlyQuota, @rateLimitPerMinute, @pricePerCall, @currency, @pricesJson, @timeZone, @limitsJson, @creditsJson, @createdAt, @updatedAt)`),
    getPlan: db.prepare('SELECT * FROM plans WHERE id = ?'),
    listPlans: db.prepare('SELECT * FROM plans WHERE id > ? ORDER BY id LIMIT ?'),
    updatePlan: db.prepare(`UPDATE plans SET monthly_quota = @monthlyQuota, rate_limit_per_minute = @rateLimitPerMinute,
      price_per_call = @pricePerCall, currency = @currency, prices = @pricesJson, time_zone = @timeZone, limits = @limitsJson, credits = @creditsJson,
      updated_at = @updatedAt WHERE id = @id`),
    insertGroup: db.prepare(`INSERT INTO customer_groups (id, name, plan_id, limit_overrides, limits, created_at, updated_at)
      VALUES (@id, @name, @planId, @limitOverridesJson, @limitsJson, @createdAt, @updatedAt)`),
    getGroup: db.prepare('SELECT * FROM customer_groups WHERE id = ?'),
    listGroups: db.prepare('SELECT * FROM customer_groups WHERE id > ? ORDER BY id LIMIT ?'),
    updateGroup: db.prepare(`UPDATE customer_groups SET name = @name, plan_id = @planId, limit_overrides = @limitOverridesJson, limits = @limitsJson,
      updated_at = @updatedAt WHERE id = @id`),
    insertApp: db.prepare(`INSERT INTO apps (id, group_id, name, monthly_quota, rate_limit_per_minute, limit_overrides, limits, created_at, updated_at)
      VALUES (@id, @groupId, @name, @monthlyQuota, @rateLimitPerMinute, @limitOverridesJson, @limitsJson, @createdAt, @updatedAt)`),
    getApp: db.prepare('SELECT * FROM apps WHERE id = ?'),
    listApps: db.prepare('SELECT * FROM apps WHERE id > ? ORDER BY id LIMIT ?'),
    listAppsOfGroup: db.prepare('SELECT * FROM apps WHERE group_id = ? AND id > ? ORDER BY id LIMIT ?'),
    updateApp: db.prepare(`UPDATE apps SET name = @name, monthly_quota = @monthlyQuota,
      rate_limit_per_minute = @rateLimitPerMinute, disabled_at = @disabledAt, limit_overrides = @limitOverridesJson, limits = @limitsJson,
      updated_at = @updatedAt WHERE id = @id`),
    insertKey: db.prepare(`INSERT INTO api_keys (id, app_id, name, hint, secret_hash, created_at, expires_at, revoked_at)
      VALUES (@id, @appId, @name, @hint, @secretHash, @createdAt, @expiresAt, NULL)`),
    getKey: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.id = ?`),
    listKeys: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.id > ? ORDER BY k.id LIMIT ?`),
    listKeysOfApp: db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys k JOIN apps a ON a.id = k.app_id
      WHERE k.app_id = ? AND k.id > ? ORDER BY k.id LIMIT ?`),
    revokeKey: db.prepare('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, @now) WHERE id = @id'),
    keyContext: db.prepare(`SELECT
        k.id AS k_id, k.name AS k_name, k.hint AS k_hint, k.created_at AS k_created_at, k.expires_at AS k_expires_at, k.revoked_at AS k_revoked_at,
        a.id AS a_id, a.name AS a_name, a.monthly_quota AS a_monthly_quota, a.rate_limit_per_minute AS a_rate_limit_per_minute,
        a.created_at AS a_created_at, a.updated_at AS a_updated_at, a.disabled_at AS a_disabled_at, a.limit_overrides AS a_limit_overrides, a.limits AS a_limits,
        g.id AS g_id, g.name AS g_name, g.created_at AS g_created_at, g.updated_at AS g_updated_at, g.limit_overrides AS g_limit_overrides, g.limits AS g_limits,
        p.id AS p_id, p.monthly_quota AS p_monthly_quota, p.rate_limit_per_minute AS p_rate_limit_per_minute,
        p.price_per_call AS p_price_per_call, p.currency AS p_currency, p.prices AS p_prices, p.time_zone AS p_time_zone, p.created_at AS p_created_at, p.updated_at AS p_updated_at,
        p.limits AS p_limits, p.credits AS p_credits
      FROM api_keys k JOIN apps a ON a.id = k.app_id JOIN customer_groups g ON g.id = a.group_id JOIN plans p ON p.id = g.plan_id
      WHERE k.secret_hash = ?`),
    insertToken: db.prepare(`INSERT INTO service_tokens (id, name, hint, secret_hash, created_at, revoked_at)
      VALUES (@id, @name, @hint, @secretHash, @createdAt, NULL)`),
    getToken: db.prepare('SELECT id, name, hint, created_at, revoked_at FROM service_tokens WHERE id = ?'),
    listTokens: db.prepare('SELECT id, name, hint, created_at, revoked_at FROM service_tokens WHERE id > ? ORDER BY id LIMIT ?'),
    revokeToken: db.prepare('UPDATE service_tokens SET revoked_at = COALESCE(revoked_at, @now) WHERE id = @id'),
    findToken: db.prepare('SELECT id, name, hint, created_at, revoked_at FROM service_tokens WHERE secret_hash = ?'),
  };
}

/** A plan's JSON columns as the statements bind them. */
function planJson(plan: Omit<Plan, 'createdAt' | 'updatedAt'>) {
  const { limitsJson, creditsJson } = limitColumns(plan);
  return { pricesJson: JSON.stringify(plan.prices), limitsJson, creditsJson };
}

/** A group or an app with its JSON columns as the statements bind them. */
function withJson<T extends Pick<Group, 'limitOverrides' | 'limits'>>(item: T): T & { limitOverridesJson: string; limitsJson: string } {
  const { limitOverridesJson, limitsJson } = limitColumns(item);
  return { ...item, limitOverridesJson, limitsJson };
}

function cached<T>(cache: LookupMemo<T>, key: string, load: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = load();
    cache.set(key, value);
  }
  return value;
}

function paginate<T>(stmt: Statement, args: unknown[], page: PageRequest, map: (row: unknown) => T): Page<T> {
  const rows = stmt.all(...args, page.after ?? '', page.limit + 1);
  const items = rows.slice(0, page.limit).map(map);
  const last = items[items.length - 1] as { id: string } | undefined;
  return { items, next: rows.length > page.limit && last ? last.id : null };
}

function mapKeyContext(row: unknown): KeyContext | null {
  const r = row as Record<string, unknown> | undefined;
  if (r === undefined) return null;
  const pick = (prefix: string) =>
    Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const app = mapApp({ ...pick('a_'), group_id: r.g_id })!;
  return {
    key: mapKey({ ...pick('k_'), app_id: r.a_id, group_id: r.g_id })!,
    app,
    group: mapGroup({ ...pick('g_'), plan_id: r.p_id })!,
    plan: mapPlan(pick('p_'))!,
  };
}
