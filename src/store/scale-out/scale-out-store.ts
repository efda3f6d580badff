import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Clock } from '../../clock.js';
import { billingPeriod, type Span } from '../../domain/periods.js';
import type { App, Group, Key, KeyContext, Plan, ServiceToken } from '../../domain/types.js';
import { ApiError } from '../../errors.js';
import { PgCatalog, PG_TYPES } from '../postgres/pg-catalog.js';
import { PgUsage } from '../postgres/pg-usage.js';
import { ensurePartitions, migrate } from '../postgres/schema.js';
import { DUPLICATE, type PendingWrite } from '../pending-write.js';
import { addUsageInRedis, adjustInRedis, admitInRedis, limiterKeys, quotaCounters, seedQuota } from '../redis/redis-limiter.js';
import { decompose } from '../rollup-segments.js';
import { GroupCommitter } from '../group-commit.js';
import type {
  AppPatch, GroupPatch, IngestEvent, IngestOutcome, MeterRequest, MeterResult, NewApp, NewGroup, NewKey, NewPlan, NewServiceToken,
  Page, PageRequest, PlanPatch, RollupQuery, RollupSum, Store,
} from '../store.js';
import { CatalogCache, CatalogInvalidation } from './catalog-cache.js';

export interface ScaleOutStoreOptions {
  /** postgres://… : plans, groups, apps, keys, events, rollups, idempotency ids. */
  databaseUrl: string;
  /** redis://… : rate-limit windows and quota counters, catalogue invalidation. */
  redisUrl: string;
  clock: Clock;
  /** How long idempotency keys and ingest ids are remembered. */
  idempotencyWindowMs: number;
  /** Longest a catalogue entry is served from memory without news from Redis (default 30 s). */
  catalogCacheMs?: number;
  /** PostgreSQL connections per instance (default 10). */
  poolSize?: number;
}

/** An answer being decided under an idempotency key is marked so in Redis until it is known. */
const PENDING = 'pending';
/** How long Redis keeps a remembered answer; PostgreSQL keeps it for the whole window. */
const REPLY_CACHE_MS = 10 * 60_000;
/** How long an instance waits for another that is deciding the same idempotency key. */
const PENDING_MS = 30_000;

/**
 * The scale-out store: any number of stateless instances share one
 * PostgreSQL (durable state) and one Redis (counters).
 *
 * A check is one Lua script in Redis, which applies both windows and both
 * quotas atomically across all instances; when it admits, the event, its
 * rollup rows and its idempotent answer commit in one PostgreSQL transaction
 * (group-committed with the other calls of this instance) before the caller
 * hears back. A quota counter that Redis does not hold yet (the first call
 * of a period, or after Redis lost its data) is seeded from the rollups in
 * PostgreSQL with SET NX, so instances racing to seed agree on one value.
 *
 * When Redis or PostgreSQL cannot be reached the call is refused with a 503
 * `unavailable` error; counters taken for a call that could not be recorded
 * are given back.
 */
export class ScaleOutStore implements Store {
  private readonly committer: GroupCommitter<PendingWrite, number>;
  private readonly seeding = new Map<string, Promise<void>>();
  private readonly inFlightReplies = new Map<string, Promise<MeterResult>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  private constructor(
    private readonly options: ScaleOutStoreOptions,
    private readonly pool: pg.Pool,
    private readonly redis: Redis,
    private readonly catalog: PgCatalog,
    private readonly usage: PgUsage,
    private readonly cache: CatalogCache,
    private readonly invalidation: CatalogInvalidation,
  ) {
    // Several batches at once: each is its own transaction on its own connection, and their order does not matter.
    this.committer = new GroupCommitter((items) => this.usage.write(items, options.clock.now()), 10_000, 4);
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      const timer = setInterval(() => void fn().catch(() => undefined), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(3_600_000, () => this.usage.prune(options.clock.now() - options.idempotencyWindowMs - 5 * 60_000));
    every(86_400_000, () => ensurePartitions(pool, options.clock.now()));
  }

  /** Connects to both servers, brings the schema up to date and joins the catalogue invalidation channel. */
  static async open(options: ScaleOutStoreOptions): Promise<ScaleOutStore> {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, types: PG_TYPES, max: options.poolSize ?? 10, connectionTimeoutMillis: 5_000 });
    // An idle connection that breaks (the server restarted) is dropped from the pool; the next query opens a new one.
    pool.on('error', () => undefined);
    const redisOptions = { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (times: number) => Math.min(times * 100, 1_000) };
    // No offline queue: while Redis is away a call fails at once instead of waiting for it.
    const redis = new Redis(options.redisUrl, { ...redisOptions, enableOfflineQueue: false, commandTimeout: 2_000 });
    const subscriber = new Redis(options.redisUrl, redisOptions);
    for (const client of [redis, subscriber]) client.on('error', () => undefined);
    try {
      await migrate(pool);
      await ensurePartitions(pool, options.clock.now());
      await redis.connect();
      await subscriber.connect();
      const cache = new CatalogCache(options.catalogCacheMs ?? 30_000);
      const invalidation = await CatalogInvalidation.start(redis, subscriber, cache);
      return new ScaleOutStore(options, pool, redis, new PgCatalog(pool), new PgUsage(pool), cache, invalidation);
    } catch (error) {
      redis.disconnect();
      subscriber.disconnect();
      await pool.end();
      throw error;
    }
  }

  async healthy(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await Promise.all([this.pool.query('SELECT 1'), this.redis.ping()]);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.committer.drain();
    this.invalidation.close();
    this.redis.disconnect();
    await this.pool.end();
  }

  // ------------------------------------------------------------ catalogue

  createPlan(plan: NewPlan, now: number): Promise<Plan> {
    return this.change(() => this.catalog.createPlan(plan, now));
  }

  getPlan(id: string): Promise<Plan | null> {
    return this.catalog.getPlan(id);
  }

  listPlans(page: PageRequest): Promise<Page<Plan>> {
    return this.catalog.listPlans(page);
  }

  updatePlan(id: string, patch: PlanPatch, now: number): Promise<Plan> {
    return this.change(() => this.catalog.updatePlan(id, patch, now));
  }

  createGroup(group: NewGroup, now: number): Promise<Group> {
    return this.change(() => this.catalog.createGroup(group, now));
  }

  getGroup(id: string): Promise<Group | null> {
    return this.catalog.getGroup(id);
  }

  listGroups(page: PageRequest): Promise<Page<Group>> {
    return this.catalog.listGroups(page);
  }

  updateGroup(id: string, patch: GroupPatch, now: number): Promise<Group> {
    return this.change(() => this.catalog.updateGroup(id, patch, now));
  }

  createApp(app: NewApp, now: number): Promise<App> {
    return this.change(() => this.catalog.createApp(app, now));
  }

  getApp(id: string): Promise<App | null> {
    // Every ingested batch looks up the apps it names.
    return this.cache.get('app', id, () => this.catalog.getApp(id));
  }

  listApps(groupId: string | null, page: PageRequest): Promise<Page<App>> {
    return this.catalog.listApps(groupId, page);
  }

  updateApp(id: string, patch: AppPatch, now: number): Promise<App> {
    return this.change(() => this.catalog.updateApp(id, patch, now));
  }

  createKey(key: NewKey): Promise<Key> {
    return this.change(() => this.catalog.createKey(key));
  }

  getKey(id: string): Promise<Key | null> {
    return this.catalog.getKey(id);
  }

  listKeys(appId: string | null, page: PageRequest): Promise<Page<Key>> {
    return this.catalog.listKeys(appId, page);
  }

  revokeKey(id: string, now: number): Promise<Key> {
    return this.change(() => this.catalog.revokeKey(id, now));
  }

  findKeyContext(secretHash: string): Promise<KeyContext | null> {
    return this.cache.get('key', secretHash, () => this.catalog.findKeyContext(secretHash));
  }

  createServiceToken(token: NewServiceToken): Promise<ServiceToken> {
    return this.change(() => this.catalog.createServiceToken(token));
  }

  listServiceTokens(page: PageRequest): Promise<Page<ServiceToken>> {
    return this.catalog.listServiceTokens(page);
  }

  revokeServiceToken(id: string, now: number): Promise<ServiceToken> {
    return this.change(() => this.catalog.revokeServiceToken(id, now));
  }

  findServiceToken(secretHash: string): Promise<ServiceToken | null> {
    return this.cache.get('token', secretHash, () => this.catalog.findServiceToken(secretHash));
  }

  // ------------------------------------------------------------ metering

  async meter(request: MeterRequest): Promise<MeterResult> {
    if (request.idempotencyKey === undefined) return this.admitAndRecord(request);
    // Calls on this instance under one key share one decision; other instances wait on the mark in Redis.
    const local = `${request.groupId}\u0000${request.idempotencyKey}`;
    const inFlight = this.inFlightReplies.get(local);
    if (inFlight !== undefined) return { ...(await inFlight), replayed: true };
    const decided = this.meterOnce(request, request.idempotencyKey);
    this.inFlightReplies.set(local, decided);
    try {
      return await decided;
    } finally {
      this.inFlightReplies.delete(local);
    }
  }

  async settle(request: MeterRequest, actualCost: number): Promise<void> {
    await this.reach(() => adjustInRedis(this.redis, request, actualCost - request.cost));
    if (actualCost <= 0) return;
    await this.record({ ...request, cost: actualCost }, undefined).catch(async (error: unknown) => {
      await adjustInRedis(this.redis, request, -actualCost).catch(() => undefined);
      throw error;
    });
  }

  async ingest(events: readonly IngestEvent[]): Promise<IngestOutcome[]> {
    const seqs = await this.reach(() => this.committer.submitMany(events));
    const accepted = events.filter((_, i) => seqs[i] !== DUPLICATE);
    if (accepted.length > 0) {
      try {
        const additions = await Promise.all(accepted.map(async (e) => ({ ...e, period: await this.periodOf(e.groupId, e.ts) })));
        await addUsageInRedis(this.redis, additions);
      } catch {
        // The events are in PostgreSQL: a counter that missed them is corrected when it is seeded again.
      }
    }
    return seqs.map((seq) => (seq === DUPLICATE ? 'duplicate' : 'accepted'));
  }

  async periodUsage(groupId: string, appId: string, period: Span): Promise<{ groupUsed: number; appUsed: number }> {
    const request = { groupId, appId, period };
    return this.reach(async () => {
      for (;;) {
        const [group, app] = await quotaCounters(this.redis, request);
        if (group !== null && app !== null) return { groupUsed: group, appUsed: app };
        if (group === null) await this.seed(request, 'group');
        if (app === null) await this.seed(request, 'app');
      }
    });
  }

  // ------------------------------------------------------------ rollups

  sumRollups(query: RollupQuery): Promise<RollupSum[][]> {
    return this.reach(() => this.usage.sumRollups(query));
  }

  // ------------------------------------------------------------ internals

  private async admitAndRecord(request: MeterRequest): Promise<MeterResult> {
    const decision = await this.reach(() => this.admit(request));
    if (!decision.allowed || request.mode !== 'record') return decision;
    return this.record(request, decision);
  }

  /** Writes an admitted call; when it cannot be written, what it took from the counters is given back. */
  private async record(request: MeterRequest, decision: MeterResult | undefined): Promise<MeterResult> {
    const write: PendingWrite = {
      ts: request.now, groupId: request.groupId, appId: request.appId, keyId: request.keyId,
      usageType: request.usageType, requestArgsHash: request.requestArgsHash, count: request.cost,
      ...(request.idempotencyKey === undefined || decision === undefined
        ? {} : { reply: { groupId: request.groupId, idempotencyKey: request.idempotencyKey, result: decision } }),
    };
    try {
      const seq = await this.committer.submit(write);
      return { ...(decision as MeterResult), eventId: String(seq) };
    } catch (error) {
      if (decision !== undefined) await adjustInRedis(this.redis, request, -request.cost).catch(() => undefined);
      throw unavailable(error);
    }
  }

  /** The limits in Redis, seeding a quota counter from PostgreSQL first when Redis does not hold it. */
  private async admit(request: MeterRequest): Promise<MeterResult> {
    for (;;) {
      const answer = await admitInRedis(this.redis, request, this.quotaTtl(request.period));
      if (answer.kind === 'decided') return answer.result;
      await this.seed(request, answer.scope);
    }
  }

  /**
   * Sets a quota counter to the units PostgreSQL holds for the period, unless
   * another call or instance set it first. No admitted call can be missing
   * from that sum: a call is admitted only against an existing counter.
   */
  private seed(request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>, scope: 'group' | 'app'): Promise<void> {
    const key = limiterKeys(request)[scope === 'group' ? 2 : 3];
    let seeding = this.seeding.get(key);
    if (seeding === undefined) {
      seeding = (async () => {
        const sums = await this.usage.sumRollups({ groupId: request.groupId, dimension: 'app_id', segments: decompose(request.period) });
        const used = sums.flat().filter((row) => scope === 'group' || row.value === request.appId).reduce((total, row) => total + row.count, 0);
        await seedQuota(this.redis, request, scope, used, this.quotaTtl(request.period));
      })().finally(() => this.seeding.delete(key));
      this.seeding.set(key, seeding);
    }
    return seeding;
  }

  /**
   * A check under an idempotency key, decided once across all instances: the
   * first marks the key in Redis, decides, and leaves its answer there (and in
   * PostgreSQL, with the event); the others wait for that answer.
   */
  private async meterOnce(request: MeterRequest, idempotencyKey: string): Promise<MeterResult> {
    const mark = `tg:{${request.groupId}}:reply:${idempotencyKey}`;
    const deadline = Date.now() + PENDING_MS;
    for (;;) {
      const claimed = await this.reach(() => this.redis.set(mark, PENDING, 'PX', PENDING_MS, 'NX'));
      if (claimed === 'OK') break;
      const value = await this.reach(() => this.redis.get(mark));
      if (value !== null && value !== PENDING) return { ...(JSON.parse(value) as MeterResult), replayed: true };
      if (Date.now() > deadline) throw new ApiError('unavailable', 'Another call with this idempotency key is still being decided.');
      if (value === PENDING) await sleep(5);
    }
    try {
      const stored = (await this.reach(() => this.usage.reply(request.groupId, idempotencyKey))) as MeterResult | null;
      if (stored !== null) {
        await this.redis.set(mark, JSON.stringify(stored), 'PX', REPLY_CACHE_MS);
        return { ...stored, replayed: true };
      }
      const result = await this.admitAndRecord(request);
      // Only recorded calls are remembered: a refused call may be retried under the same key.
      if (result.eventId !== null) await this.redis.set(mark, JSON.stringify(result), 'PX', REPLY_CACHE_MS);
      else await this.redis.del(mark);
      return result;
    } catch (error) {
      await this.redis.del(mark).catch(() => undefined);
      throw error;
    }
  }

  /** The billing period of the event's group that holds `ts`. */
  private async periodOf(groupId: string, ts: number): Promise<Span> {
    const timeZone = await this.cache.get('zone', groupId, async () => {
      const group = await this.catalog.getGroup(groupId);
      return group === null ? 'UTC' : (await this.catalog.getPlan(group.planId))?.timeZone ?? 'UTC';
    });
    return billingPeriod(ts, timeZone);
  }

  /** Counters outlive their period by a day, for late events and usage reads. */
  private quotaTtl(period: Span): number {
    return Math.max(period.end - this.options.clock.now(), 0) + 86_400_000;
  }

  /** Runs a catalogue change, then tells every instance (this one too) to forget what it cached. */
  private async change<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.cache.clear();
      await this.invalidation.publish();
    }
  }

  /** Turns a failure to reach Redis or PostgreSQL into a 503 the caller can retry. */
  private async reach<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw unavailable(error);
    }
  }
}

function unavailable(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  // The cause is kept for the log; the caller hears only that it may retry.
  return Object.assign(new ApiError('unavailable', 'The usage store cannot be reached right now. Please try again later.'), { cause: error });
}
