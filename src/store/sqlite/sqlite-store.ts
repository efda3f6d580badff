import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database, { type Database as DB, type Statement } from 'better-sqlite3';
import type { Clock } from '../../clock.js';
import { systemScheduler, type Cancel, type Scheduler } from '../../scheduler.js';
import type { Span } from '../../domain/periods.js';
import type { App, Group, Key, KeyContext, Plan, ServiceToken } from '../../domain/types.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import { LocalLimiter, type Scope } from '../../limits/local-limiter.js';
import { unitsInPeriod } from '../../domain/rollup-segments.js';
import type { AppPatch, GroupPatch, NewApp, NewGroup, NewKey, NewPlan, NewServiceToken, Page, PageRequest, PlanPatch, Store, StoredStatement } from '../store.js';
import type { IngestEvent, IngestOutcome, MeterRequest, MeterResult } from '../../domain/metering.js';
import type { RollupLevel, RollupQuery, RollupSum } from '../../domain/rollups.js';
import type { StoreBacklog } from '../../engine/ports.js';
import { defined, LATEST_PERIOD_BOUND, mapApp, mapGroup, mapKey, mapPlan, mapStatement, mapToken, statementPage, withPriceDefaults } from '../catalog-rows.js';
import { DataDirLock } from '../data-dir-lock.js';
import { LookupMemo } from '../lookup-memo.js';
import { openDatabase } from './database.js';
import { GroupCommitter, type CommitObserver } from '../../engine/group-commit.js';
import { RollupWriter } from './rollup-writer.js';
import { migrate } from './schema.js';
import { SqliteAlerts } from './sqlite-alerts.js';
import { SqliteEndedSessions } from './sqlite-sessions.js';
import { WriterClient } from './writer-client.js';
import { DUPLICATE, type PendingWrite } from './writer-protocol.js';

export interface SqliteStoreOptions {
  /** Directory that holds `tollgate.db`; created when missing. */
  dataDir: string;
  clock: Clock;
  /** Runs the store's background work (sweeps, pruning); default: Node's timers. */
  scheduler?: Scheduler;
  /** How long idempotency keys are remembered. */
  idempotencyWindowMs: number;
  /** How often buffered rollup deltas are written. */
  rollupFlushMs: number;
  /** Hears of every commit batch (metrics). */
  commitObserver?: CommitObserver;
}

const CACHE_LIMIT = 100_000;

/**
 * The embedded store: one SQLite file in WAL mode, used by this process
 * alone. Limits are decided in memory on the main thread (synchronously, so
 * atomically); each admitted call's event is then committed with its
 * neighbours in one transaction (group commit, synchronous=FULL) by a writer
 * thread, before the caller hears back, so the fsync never stalls request
 * handling. The writer keeps the rollups from committed events behind a
 * watermark written in the same transaction, so a crash loses nothing: events
 * past the watermark are rolled up again at the next open. The main thread
 * reads, and writes the catalogue.
 */
export class SqliteStore implements Store {
  readonly path: string;
  private readonly db: DB;
  private readonly limiter: LocalLimiter;
  private readonly committer: GroupCommitter<PendingWrite, number>;
  private readonly writer: WriterClient;
  private readonly loading = new Map<string, Promise<void>>();
  private readonly lock: DataDirLock;
  private readonly inFlightReplies = new Map<string, Promise<MeterResult>>();
  /** Lookups on every call (by secret hash, by app id); dropped whenever the catalogue changes. */
  private readonly keyCache = new LookupMemo<KeyContext | null>(CACHE_LIMIT, (v) => v === null);
  private readonly tokenCache = new LookupMemo<ServiceToken | null>(CACHE_LIMIT, (v) => v === null);
  private readonly appCache = new LookupMemo<App | null>(CACHE_LIMIT, (v) => v === null);
  private readonly background: Cancel[] = [];
  private readonly stmt: ReturnType<typeof prepare>;
  /** Alerts and the webhook outbox, in the same SQLite file. */
  readonly alerts: SqliteAlerts;
  /** Dashboard sessions signed out of, in the same SQLite file. */
  readonly endedSessions: SqliteEndedSessions;
  private closed = false;

  constructor(private readonly options: SqliteStoreOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.lock = DataDirLock.acquire(options.dataDir);
    try {
      this.path = join(options.dataDir, 'tollgate.db');
      this.db = openDatabase(this.path);
      migrate(this.db);
      this.stmt = prepare(this.db);
      this.alerts = new SqliteAlerts(this.db);
      this.endedSessions = new SqliteEndedSessions(this.db);
      new RollupWriter(this.db).recover();
      this.writer = new WriterClient({ path: this.path, rollupFlushMs: options.rollupFlushMs });
      // The writer thread commits messages in order, so a second batch can wait there while the first is fsynced.
      this.committer = new GroupCommitter((items) => this.writer.commit(items, options.clock.now()), 10_000, 2, options.commitObserver);
      this.limiter = new LocalLimiter();
    } catch (error) {
      this.lock.release();
      throw error;
    }

    const scheduler = options.scheduler ?? systemScheduler();
    this.background.push(
      scheduler.every(60_000, () => this.limiter.sweep(options.clock.now())),
      scheduler.every(3_600_000, () => this.pruneReplies()),
    );
  }

  async healthy(): Promise<boolean> {
    return !this.closed && this.stmt.ping.get() !== undefined;
  }

  backlog(): StoreBacklog {
    return {
      queuedWrites: this.committer.pending, committingWrites: this.committer.committing, rollupPendingEvents: this.writer.rollupPending, spooledBatches: 0,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of this.background) cancel();
    await this.committer.drain();
    await this.writer.close();
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
    this.lock.release();
  }

  // ------------------------------------------------------------ statements

  async closeStatement(statement: StoredStatement): Promise<StoredStatement> {
    // IMMEDIATE, as for the catalogue: the writer thread may hold the write lock.
    return this.db.transaction(() => {
      this.stmt.insertStatement.run(statement);
      return mapStatement(this.stmt.getStatement.get(statement.groupId, statement.period))!;
    }).immediate();
  }

  async getStatement(groupId: string, period: string): Promise<StoredStatement | null> {
    return mapStatement(this.stmt.getStatement.get(groupId, period));
  }

  async listStatements(groupId: string, page: PageRequest): Promise<Page<StoredStatement>> {
    return statementPage(this.stmt.listStatements.all(groupId, page.after ?? LATEST_PERIOD_BOUND, page.limit + 1), page.limit);
  }

  // ------------------------------------------------------------ catalogue

  async createPlan(plan: NewPlan, now: number): Promise<Plan> {
    return this.mutate(() => {
      this.insertOrConflict(() => this.insertPlan(withPriceDefaults(plan), now), `A plan with id "${plan.id}" already exists.`);
      return this.requirePlan(plan.id);
    });
  }

  private insertPlan(plan: Omit<Plan, 'createdAt' | 'updatedAt'>, now: number): void {
    this.stmt.insertPlan.run({ ...plan, pricesJson: JSON.stringify(plan.prices), createdAt: now, updatedAt: now });
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
      this.stmt.updatePlan.run({ ...next, pricesJson: JSON.stringify(next.prices) });
      return this.requirePlan(id);
    });
  }

  async createGroup(group: NewGroup, now: number): Promise<Group> {
    return this.mutate(() => {
      this.requirePlan(group.planId);
      this.insertOrConflict(() => this.stmt.insertGroup.run({ ...group, createdAt: now, updatedAt: now }), `A group with id "${group.id}" already exists.`);
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
      this.stmt.updateGroup.run(next);
      return this.requireGroup(id);
    });
  }

  async createApp(app: NewApp, now: number): Promise<App> {
    return this.mutate(() => {
      this.requireGroup(app.groupId);
      this.insertOrConflict(() => this.stmt.insertApp.run({ ...app, createdAt: now, updatedAt: now }), `An app with id "${app.id}" already exists.`);
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
      this.stmt.updateApp.run(next);
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

  // ------------------------------------------------------------ metering

  async meter(request: MeterRequest): Promise<MeterResult> {
    await this.ensureUsageLoaded(request.groupId, request.appId, request.period);
    // From here to the admission nothing awaits, so no other call can slip in between.
    const replyKey = request.idempotencyKey === undefined ? null : `${request.groupId}\u0000${request.idempotencyKey}`;
    if (replyKey !== null) {
      const inFlight = this.inFlightReplies.get(replyKey);
      if (inFlight !== undefined) return { ...(await inFlight), replayed: true };
      const stored = this.stmt.getReply.get(request.groupId, request.idempotencyKey) as { result: string } | undefined;
      if (stored !== undefined) return { ...(JSON.parse(stored.result) as MeterResult), replayed: true };
    }

    const decision = this.limiter.admit(request);
    if (!decision.allowed || request.mode !== 'record') return decision;

    const write: PendingWrite = {
      ts: request.now, groupId: request.groupId, appId: request.appId, keyId: request.keyId,
      usageType: request.usageType, requestArgsHash: request.requestArgsHash, count: request.cost,
      ...(replyKey === null ? {} : { reply: { groupId: request.groupId, idempotencyKey: request.idempotencyKey!, result: decision } }),
    };
    const written = this.committer.submit(write).then(
      (seq) => ({ ...decision, eventId: String(seq) }),
      (error: unknown) => {
        this.limiter.refund(request);
        throw error;
      },
    );
    if (replyKey === null) return written;
    // Only admitted calls are remembered: a refused call may be retried under the same key.
    this.inFlightReplies.set(replyKey, written);
    try {
      return await written;
    } finally {
      this.inFlightReplies.delete(replyKey);
    }
  }

  async settle(request: MeterRequest, actualCost: number): Promise<void> {
    this.limiter.adjust(request, actualCost - request.cost);
    if (actualCost <= 0) return;
    try {
      await this.committer.submit({
        ts: request.now, groupId: request.groupId, appId: request.appId, keyId: request.keyId,
        usageType: request.usageType, requestArgsHash: request.requestArgsHash, count: actualCost,
      });
    } catch (error) {
      this.limiter.adjust(request, -actualCost);
      throw error;
    }
  }

  async ingest(events: readonly IngestEvent[]): Promise<IngestOutcome[]> {
    // An ingested event already has the writer's shape: no copy.
    const seqs = await this.committer.submitMany(events);
    return seqs.map((seq, i) => {
      if (seq === DUPLICATE) return 'duplicate';
      const e = events[i]!;
      this.limiter.addUsage(e.groupId, e.appId, e.ts, e.count);
      return 'accepted';
    });
  }

  async periodUsage(groupId: string, appId: string, period: Span): Promise<{ groupUsed: number; appUsed: number }> {
    await this.ensureUsageLoaded(groupId, appId, period);
    return this.limiter.usage(groupId, appId, period);
  }

  // ------------------------------------------------------------ rollups

  async sumRollups(query: RollupQuery): Promise<RollupSum[][]> {
    await this.writer.flushRollups();
    return query.segments.map((segment) =>
      this.stmt.sumRollup[segment.level].all(query.groupId, query.dimension, segment.start, segment.end) as RollupSum[]);
  }

  // ------------------------------------------------------------ internals

  /**
   * Seeds the limiter's counters for this group and app from the rollups the
   * first time they are seen in a period; concurrent first calls share one load.
   */
  private async ensureUsageLoaded(groupId: string, appId: string, period: Span): Promise<void> {
    for (const { scope, id } of this.limiter.missingUsage(groupId, appId, period)) {
      const key = `${scope}:${id}:${period.start}`;
      let load = this.loading.get(key);
      if (load === undefined) {
        load = this.loadUsage(groupId, scope, id, period).finally(() => this.loading.delete(key));
        this.loading.set(key, load);
      }
      await load;
    }
  }

  /** The group's (or one of its apps') units in the period, summed from the app_id rollups like any usage query. */
  private async loadUsage(groupId: string, scope: Scope, id: string, period: Span): Promise<void> {
    await this.committer.drain();
    this.limiter.setUsage(scope, id, period, await unitsInPeriod(this, groupId, scope === 'group' ? null : id, period));
  }

  private pruneReplies(): void {
    // Event ids are kept 5 minutes past the window: an event may be stamped up to 5 minutes ahead.
    this.writer.prune(this.options.clock.now() - this.options.idempotencyWindowMs - 5 * 60_000).catch(() => undefined);
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

// ------------------------------------------------------------ statements and row mapping

function prepare(db: DB) {
  const perLevel = <T>(fn: (level: RollupLevel) => T): Record<RollupLevel, T> =>
    ({ quarter: fn('quarter'), hour: fn('hour'), day: fn('day') });
  const KEY_COLUMNS = 'k.id, k.app_id, a.group_id, k.name, k.hint, k.created_at, k.expires_at, k.revoked_at';
  return {
    ping: db.prepare('SELECT 1 AS ok'),
    insertPlan: db.prepare(`INSERT INTO plans (id, monthly_quota, rate_limit_per_minute, price_per_call, currency, prices, time_zone, created_at, updated_at)
      VALUES (@id, @monthlyQuota, @rateLimitPerMinute, @pricePerCall, @currency, @pricesJson, @timeZone, @createdAt, @updatedAt)`),
    getPlan: db.prepare('SELECT * FROM plans WHERE id = ?'),
    listPlans: db.prepare('SELECT * FROM plans WHERE id > ? ORDER BY id LIMIT ?'),
    updatePlan: db.prepare(`UPDATE plans SET monthly_quota = @monthlyQuota, rate_limit_per_minute = @rateLimitPerMinute,
      price_per_call = @pricePerCall, currency = @currency, prices = @pricesJson, time_zone = @timeZone, updated_at = @updatedAt WHERE id = @id`),
    insertGroup: db.prepare(`INSERT INTO customer_groups (id, name, plan_id, created_at, updated_at)
      VALUES (@id, @name, @planId, @createdAt, @updatedAt)`),
    getGroup: db.prepare('SELECT * FROM customer_groups WHERE id = ?'),
    listGroups: db.prepare('SELECT * FROM customer_groups WHERE id > ? ORDER BY id LIMIT ?'),
    updateGroup: db.prepare('UPDATE customer_groups SET name = @name, plan_id = @planId, updated_at = @updatedAt WHERE id = @id'),
    insertApp: db.prepare(`INSERT INTO apps (id, group_id, name, monthly_quota, rate_limit_per_minute, created_at, updated_at)
      VALUES (@id, @groupId, @name, @monthlyQuota, @rateLimitPerMinute, @createdAt, @updatedAt)`),
    getApp: db.prepare('SELECT * FROM apps WHERE id = ?'),
    listApps: db.prepare('SELECT * FROM apps WHERE id > ? ORDER BY id LIMIT ?'),
    listAppsOfGroup: db.prepare('SELECT * FROM apps WHERE group_id = ? AND id > ? ORDER BY id LIMIT ?'),
    updateApp: db.prepare(`UPDATE apps SET name = @name, monthly_quota = @monthlyQuota,
      rate_limit_per_minute = @rateLimitPerMinute, disabled_at = @disabledAt, updated_at = @updatedAt WHERE id = @id`),
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
        a.created_at AS a_created_at, a.updated_at AS a_updated_at, a.disabled_at AS a_disabled_at,
        g.id AS g_id, g.name AS g_name, g.created_at AS g_created_at, g.updated_at AS g_updated_at,
        p.id AS p_id, p.monthly_quota AS p_monthly_quota, p.rate_limit_per_minute AS p_rate_limit_per_minute,
        p.price_per_call AS p_price_per_call, p.currency AS p_currency, p.prices AS p_prices, p.time_zone AS p_time_zone, p.created_at AS p_created_at, p.updated_at AS p_updated_at
      FROM api_keys k JOIN apps a ON a.id = k.app_id JOIN customer_groups g ON g.id = a.group_id JOIN plans p ON p.id = g.plan_id
      WHERE k.secret_hash = ?`),
    insertToken: db.prepare(`INSERT INTO service_tokens (id, name, hint, secret_hash, created_at, revoked_at)
      VALUES (@id, @name, @hint, @secretHash, @createdAt, NULL)`),
    getToken: db.prepare('SELECT id, name, hint, created_at, revoked_at FROM service_tokens WHERE id = ?'),
    listTokens: db.prepare('SELECT id, name, hint, created_at, revoked_at FROM service_tokens WHERE id > ? ORDER BY id LIMIT ?'),
    revokeToken: db.prepare('UPDATE service_tokens SET revoked_at = COALESCE(revoked_at, @now) WHERE id = @id'),
    findToken: db.prepare('SELECT id, name, hint, created_at, revoked_at FROM service_tokens WHERE secret_hash = ?'),
    insertStatement: db.prepare(`INSERT INTO statements (group_id, period, period_start, period_end, closed_at, currency, total, document)
      VALUES (@groupId, @period, @start, @end, @closedAt, @currency, @total, @document) ON CONFLICT (group_id, period) DO NOTHING`),
    getStatement: db.prepare('SELECT * FROM statements WHERE group_id = ? AND period = ?'),
    listStatements: db.prepare('SELECT * FROM statements WHERE group_id = ? AND period < ? ORDER BY period DESC LIMIT ?'),
    getReply: db.prepare('SELECT result FROM check_replies WHERE group_id = ? AND idempotency_key = ?'),
    // A field is shared when every row has it (COUNT(col) skips NULL: "varies") and all agree.
    sumRollup: perLevel((level) => db.prepare(`SELECT value, SUM(count) AS count,
        ${['app_id', 'usage_type', 'request_args_hash'].map((f) => `CASE WHEN COUNT(${f}_sole) = COUNT(*) AND MIN(${f}_sole) = MAX(${f}_sole) THEN MIN(${f}_sole) END AS ${camel(f)}`).join(', ')}
      FROM rollup_${level} WHERE group_id = ? AND dimension = ? AND bucket >= ? AND bucket < ? GROUP BY value`)),
  };
}

function cached<T>(cache: LookupMemo<T>, key: string, load: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = load();
    cache.set(key, value);
  }
  return value;
}

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

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
