import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Clock } from '../../clock.js';
import { systemScheduler, type Cancel, type Scheduler } from '../../scheduler.js';
import { billingPeriod, type Span } from '../../domain/periods.js';
import type { App, Group, Key, KeyContext, Plan, ServiceToken } from '../../domain/types.js';
import { DomainError, UnavailableError } from '../../domain/errors.js';
import { LocalLimiter } from '../../limits/local-limiter.js';
import { PgAlerts } from '../postgres/pg-alerts.js';
import { PgCatalog, PG_TYPES } from '../postgres/pg-catalog.js';
import { CommitUncertainError, PgUsage } from '../postgres/pg-usage.js';
import { PgStatements } from '../postgres/pg-statements.js';
import { PgEndedSessions } from '../postgres/pg-sessions.js';
import { ensurePartitions, migrate } from '../postgres/schema.js';
import { DUPLICATE, type PendingWrite } from '../../engine/pending-write.js';
import { addUsageInRedis, adjustInRedis, admitInRedis, quotaCounter, quotaKey, seedQuota, type UsageAddition } from '../redis/redis-limiter.js';
import { unitsInPeriod } from '../../domain/rollup-segments.js';
import { GroupCommitter, type CommitObserver } from '../../engine/group-commit.js';
import type { AppPatch, GroupPatch, NewApp, NewGroup, NewKey, NewPlan, NewServiceToken, Page, PageRequest, PlanPatch, Store, StoredStatement } from '../store.js';
import type { IngestEvent, IngestOutcome, MeterRequest, MeterResult } from '../../domain/metering.js';
import type { RollupQuery, RollupStore, RollupSum } from '../../domain/rollups.js';
import type { StoreBacklog } from '../../engine/ports.js';
import { DataDirLock } from '../data-dir-lock.js';
import { CatalogCache, CatalogInvalidation } from './catalog-cache.js';
import { isOutage } from '../outage.js';
import { RelaxedLimits } from './relaxed-limits.js';
import { Spool } from './spool.js';

export interface ScaleOutStoreOptions {
  /** postgres://… : plans, groups, apps, keys, events, rollups, idempotency ids. */
  databaseUrl: string;
  /** redis://… : rate-limit windows and quota counters, catalogue invalidation. */
  redisUrl: string;
  clock: Clock;
  /** Runs the store's background work (pruning, partitions, retries); default: Node's timers. */
  scheduler?: Scheduler;
  /** How long idempotency keys and ingest ids are remembered. */
  idempotencyWindowMs: number;
  /** Longest a catalogue entry is served from memory without news from Redis (default 30 s). */
  catalogCacheMs?: number;
  /** PostgreSQL connections per instance (default 10). */
  poolSize?: number;
  /** This instance's own directory: its lock, and the spool of fail-open mode. */
  dataDir: string;
  /**
   * When Redis or PostgreSQL cannot be reached: `closed` refuses calls with
   * a 503; `open` decides limits in this process and spools writes to disk.
   */
  onStoreDown: 'closed' | 'open';
  /**
   * `strict` (the default): every call is decided in Redis, exact across
   * instances. `relaxed`: decided here against counts synced with Redis
   * every `syncMs`, for throughput, with some overshoot (see RelaxedLimits).
   */
  limits?: { mode: 'strict' } | { mode: 'relaxed'; syncMs: number };
  /** Hears of every commit batch (metrics). */
  commitObserver?: CommitObserver;
}

/** A write's outcome: its event id (DUPLICATE, or a spool id while PostgreSQL is away) and the transaction that committed it. */
interface Written {
  id: number | string;
  xid?: string;
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
 * When Redis or PostgreSQL cannot be reached, `onStoreDown` decides.
 * `closed`: the call is refused with a 503 `unavailable` error, and
 * counters taken for a call that could not be recorded are given back.
 * `open`: without Redis, this process's own limiter decides (seeded from
 * PostgreSQL, or from the last counts Redis gave), and what it admits is
 * added to Redis's counters when Redis is back; without PostgreSQL, batches
 * are appended to a spool on local disk (fsynced before the answer) and
 * replayed in order when PostgreSQL is back. Nothing acknowledged is lost
 * and nothing is counted twice; limits are per instance while Redis is away.
 */
export class ScaleOutStore implements Store {
  private readonly committer: GroupCommitter<PendingWrite, Written>;
  private readonly spool: Spool;
  /** Set while Redis cannot be reached in fail-open mode: limits are decided here. */
  private redisDown = false;
  private fallback = new LocalLimiter();
  private outageUsage: UsageAddition[] = [];
  /** The last quota counts Redis answered, to seed the local limiter when PostgreSQL is away too. */
  private readonly lastKnown = new Map<string, number>();
  private replaying: Promise<void> | null = null;
  /** Interrupted commits not known yet to have committed or not, with what to give back if not. */
  private readonly uncertain = new Map<string, Array<() => Promise<void>>>();
  private resolving: Promise<void> | null = null;
  private recovering: NodeJS.Timeout | null = null;
  private readonly seeding = new Map<string, Promise<void>>();
  private readonly inFlightReplies = new Map<string, Promise<MeterResult>>();
  private readonly background: Cancel[] = [];
  /** Relaxed mode's limiter; null in strict mode, where Redis decides every call. */
  private readonly relaxed: RelaxedLimits | null;
  /** Alerts and the webhook outbox, in PostgreSQL. */
  readonly alerts: PgAlerts;
  /** Dashboard sessions signed out of, in PostgreSQL: shared by every instance. */
  readonly endedSessions: PgEndedSessions;
  private closed = false;

  private constructor(
    private readonly options: ScaleOutStoreOptions,
    private readonly pool: pg.Pool,
    private readonly redis: Redis,
    private readonly catalog: PgCatalog,
    private readonly usage: PgUsage,
    private readonly statements: PgStatements,
    private readonly cache: CatalogCache,
    private readonly invalidation: CatalogInvalidation,
    private readonly lock: DataDirLock,
  ) {
    // Several batches at once: each is its own transaction on its own connection, and their order does not matter.
    this.committer = new GroupCommitter((items) => this.writeDurably(items), 10_000, 4, options.commitObserver);
    this.alerts = new PgAlerts(pool);
    this.endedSessions = new PgEndedSessions(pool);
    this.spool = new Spool(join(options.dataDir, 'spool'));
    const limits = options.limits ?? { mode: 'strict' };
    this.relaxed = limits.mode === 'strict' ? null : new RelaxedLimits({
      redis, clock: options.clock, syncMs: limits.syncMs, failOpen: this.failOpen, isOutage,
      sharedUsage: (pair, scope) => this.sharedUsage(pair, scope),
      durableUsage: (pair, scope) => durableUnits(this.usage, pair, scope),
    });
    // Left by an earlier run that stopped while PostgreSQL was away.
    if (this.spool.pending > 0) this.replaySpool();
    const scheduler = options.scheduler ?? systemScheduler();
    this.background.push(
      scheduler.every(3_600_000, () => this.usage.prune(options.clock.now() - options.idempotencyWindowMs - 5 * 60_000)),
      scheduler.every(86_400_000, () => ensurePartitions(pool, options.clock.now())),
    );
  }

  /** Connects to both servers, brings the schema up to date and joins the catalogue invalidation channel. */
  static async open(options: ScaleOutStoreOptions): Promise<ScaleOutStore> {
    mkdirSync(options.dataDir, { recursive: true });
    const lock = DataDirLock.acquire(options.dataDir);
    const pool = new pg.Pool({ connectionString: options.databaseUrl, types: PG_TYPES, max: options.poolSize ?? 10, connectionTimeoutMillis: 5_000 });
    // An idle connection that breaks (the server restarted) is dropped from the pool; the next query opens a new one.
    pool.on('error', () => undefined);
    const redisOptions = { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (times: number) => Math.min(times * 100, 1_000) };
    // No offline queue: while Redis is away a call fails at once instead of waiting for it.
    // Auto-pipelining: the scripts of all the checks that arrive in one event-loop turn go out in one write.
    const redis = new Redis(options.redisUrl, { ...redisOptions, enableOfflineQueue: false, commandTimeout: 2_000, enableAutoPipelining: true });
    const subscriber = new Redis(options.redisUrl, redisOptions);
    for (const client of [redis, subscriber]) client.on('error', () => undefined);
    try {
      await migrate(pool);
      await ensurePartitions(pool, options.clock.now());
      await redis.connect();
      await subscriber.connect();
      const cache = new CatalogCache(options.catalogCacheMs ?? 30_000);
      const invalidation = await CatalogInvalidation.start(redis, subscriber, cache);
      return new ScaleOutStore(options, pool, redis, new PgCatalog(pool), new PgUsage(pool), new PgStatements(pool), cache, invalidation, lock);
    } catch (error) {
      lock.release();
      redis.disconnect();
      subscriber.disconnect();
      await pool.end();
      throw error;
    }
  }

  backlog(): StoreBacklog {
    // Rollup rows commit in the same transaction as their events: none are ever pending here.
    return { queuedWrites: this.committer.pending, committingWrites: this.committer.committing, rollupPendingEvents: 0, spooledBatches: this.spool.pending };
  }

  async healthy(): Promise<boolean> {
    if (this.closed) return false;
    // Fail-open: this instance serves whatever the stores do.
    if (this.options.onStoreDown === 'open') return true;
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
    for (const cancel of this.background) cancel();
    if (this.recovering !== null) clearInterval(this.recovering);
    await this.committer.drain();
    await this.relaxed?.close();
    // Whatever is still spooled is replayed at the next start.
    await this.spool.close();
    this.invalidation.close();
    this.redis.disconnect();
    await this.pool.end();
    this.lock.release();
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
    await this.reach(() => this.adjustCounters(request, actualCost - request.cost));
    if (actualCost > 0) await this.record({ ...request, cost: actualCost });
  }

  async ingest(events: readonly IngestEvent[]): Promise<IngestOutcome[]> {
    const written = await this.reach(() => this.committer.submitMany(events));
    const accepted = events.flatMap((e, i) => (written[i]!.id === DUPLICATE ? [] : [{ event: e, xid: written[i]!.xid }]));
    if (accepted.length > 0) {
      try {
        const additions = await Promise.all(accepted.map(async ({ event: e, xid }) => ({
          groupId: e.groupId, appId: e.appId, count: e.count, period: await this.periodOf(e.groupId, e.ts), xid,
        })));
        if (this.relaxed !== null) await this.relaxed.addUsage(additions);
        else await this.withRedis(() => addUsageInRedis(this.redis, additions), () => this.countLocally(additions));
      } catch {
        // The events are stored: a counter that missed them is corrected when it is seeded again.
      }
    }
    return written.map(({ id }) => (id === DUPLICATE ? 'duplicate' : 'accepted'));
  }

  async periodUsage(groupId: string, appId: string, period: Span): Promise<{ groupUsed: number; appUsed: number }> {
    const request = { groupId, appId, period };
    const { relaxed } = this;
    if (relaxed !== null) return this.reach(() => relaxed.usage(request));
    return this.reach(() => this.withRedis(async () => {
      const [group, app] = await Promise.all([this.sharedUsage(request, 'group'), this.sharedUsage(request, 'app')]);
      return { groupUsed: group.used, appUsed: app.used };
    }, () => this.localUsage(request)));
  }

  // ------------------------------------------------------------ rollups

  sumRollups(query: RollupQuery): Promise<RollupSum[][]> {
    return this.reach(() => this.usage.sumRollups(query));
  }

  // ------------------------------------------------------------ statements

  closeStatement(statement: StoredStatement): Promise<StoredStatement> {
    return this.reach(() => this.statements.closeStatement(statement));
  }

  getStatement(groupId: string, period: string): Promise<StoredStatement | null> {
    return this.reach(() => this.statements.getStatement(groupId, period));
  }

  listStatements(groupId: string, page: PageRequest): Promise<Page<StoredStatement>> {
    return this.reach(() => this.statements.listStatements(groupId, page));
  }

  // ------------------------------------------------------------ internals

  private async admitAndRecord(request: MeterRequest): Promise<MeterResult> {
    const decision = await this.reach(() => this.admit(request));
    if (!decision.allowed || request.mode !== 'record') return decision;
    return { ...decision, eventId: String(await this.record(request, decision)) };
  }

  /** Writes an admitted call; when it cannot be written, what it took from the counters is given back. */
  private async record(request: MeterRequest, reply?: MeterResult): Promise<number | string> {
    const write: PendingWrite = {
      ts: request.now, groupId: request.groupId, appId: request.appId, keyId: request.keyId,
      usageType: request.usageType, requestArgsHash: request.requestArgsHash, count: request.cost,
      ...(request.idempotencyKey === undefined || reply === undefined
        ? {} : { reply: { groupId: request.groupId, idempotencyKey: request.idempotencyKey, result: reply } }),
    };
    try {
      return (await this.committer.submit(write)).id;
    } catch (error) {
      // Given back only once it is sure the call was not recorded.
      const refund = () => this.adjustCounters(request, -request.cost);
      if (error instanceof CommitUncertainError) this.refundIfAborted(error.xid, refund);
      else await refund().catch(() => undefined);
      throw unavailable(error);
    }
  }

  /** The limits in Redis, seeding a quota counter from PostgreSQL first when Redis does not hold it. */
  private admit(request: MeterRequest): Promise<MeterResult> {
    if (this.relaxed !== null) return this.relaxed.admit(request);
    return this.withRedis(async () => {
      for (;;) {
        const answer = await admitInRedis(this.redis, request, this.quotaTtl(request.period));
        if (answer.kind === 'decided') {
          // Only fail-open mode ever reads them back.
          if (this.failOpen) {
            this.lastKnown.set(quotaKey(request, 'group'), answer.result.groupUsed);
            this.lastKnown.set(quotaKey(request, 'app'), answer.result.appUsed);
          }
          return answer.result;
        }
        await this.seed(request, answer.scope);
      }
    }, async () => {
      await this.loadLocally(request);
      const decision = this.fallback.admit(request);
      if (decision.allowed && request.mode !== 'rate_only') this.outageUsage.push({ ...request, count: request.cost });
      return decision;
    });
  }

  /**
   * Runs `shared` against Redis. In fail-open mode, when Redis cannot be
   * reached (now, or since an earlier call found it away), runs `local`
   * instead; any other failure, and every failure in fail-closed mode, is
   * the caller's.
   */
  private async withRedis<T>(shared: () => Promise<T>, local: () => T | Promise<T>): Promise<T> {
    if (!this.redisDown) {
      try {
        return await shared();
      } catch (error) {
        if (!this.failOpen || !isOutage(error)) throw error;
        this.redisWentDown();
      }
    }
    return local();
  }

  private get failOpen(): boolean {
    return this.options.onStoreDown === 'open';
  }

  /** Changes a call's consumption on whichever limiter decided it. */
  private async adjustCounters(request: MeterRequest, delta: number): Promise<void> {
    if (this.relaxed !== null) return this.relaxed.adjust(request, delta);
    return this.withRedis(() => adjustInRedis(this.redis, request, delta), () => {
      this.fallback.adjust(request, delta);
      if (request.mode !== 'rate_only') this.outageUsage.push({ ...request, count: delta });
    });
  }

  /** Redis is away (fail-open): decide here from now on, and watch for its return. */
  private redisWentDown(): void {
    if (this.redisDown) return;
    this.redisDown = true;
    this.fallback = new LocalLimiter();
    this.recovering = setInterval(() => void this.tryRedisAgain(), 500);
    this.recovering.unref();
  }

  /**
   * Once Redis answers again, adds to its counters what was admitted here
   * meanwhile, then hands the limits back to it.
   */
  private async tryRedisAgain(): Promise<void> {
    try {
      await this.redis.ping();
      while (this.outageUsage.length > 0) {
        const additions = this.outageUsage;
        this.outageUsage = [];
        await addUsageInRedis(this.redis, additions).catch((error: unknown) => {
          this.outageUsage.unshift(...additions);
          throw error;
        });
      }
    } catch {
      return; // still away; try again at the next tick
    }
    // Nothing awaited since the last check: no call can have been admitted here in between.
    this.redisDown = false;
    if (this.recovering !== null) clearInterval(this.recovering);
    this.recovering = null;
  }

  /** Seeds the local limiter for a group and app: from PostgreSQL, or from what Redis last said. */
  private async loadLocally(request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>): Promise<void> {
    for (const { scope } of this.fallback.missingUsage(request.groupId, request.appId, request.period)) {
      let used: number;
      try {
        used = await durableUnits(this.usage, request, scope);
      } catch {
        used = this.lastKnown.get(quotaKey(request, scope)) ?? 0;
      }
      this.fallback.setUsage(scope, scope === 'group' ? request.groupId : request.appId, request.period, used);
    }
  }

  private async localUsage(request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>): Promise<{ groupUsed: number; appUsed: number }> {
    await this.loadLocally(request);
    return this.fallback.usage(request.groupId, request.appId, request.period);
  }

  /** Usage that bypassed the limits while Redis is away: into the local counters, and into Redis's later. */
  private countLocally(additions: UsageAddition[]): void {
    for (const a of additions) {
      this.fallback.addUsage(a.groupId, a.appId, a.period.start, a.count);
      this.outageUsage.push(a);
    }
  }

  /**
   * The group committer's writer: one PostgreSQL transaction per batch; in
   * fail-open mode, the spool while PostgreSQL is away, and for as long as
   * the spool holds anything, so that batches reach PostgreSQL in order.
   */
  private async writeDurably(items: PendingWrite[]): Promise<Written[]> {
    const receivedAt = this.options.clock.now();
    const spooled = async (xid?: string) => (await this.spool.append(items, receivedAt, xid)).map((id) => ({ id }));
    if (this.spool.pending > 0 && this.failOpen) return spooled();
    try {
      const { seqs, xid } = await this.usage.write(items, receivedAt);
      return seqs.map((id) => ({ id, xid }));
    } catch (error) {
      const uncertain = error instanceof CommitUncertainError;
      if (!this.failOpen || !(uncertain || isOutage(error))) throw error;
      // A batch whose COMMIT was cut short is spooled with its transaction id, and replayed only if that did not commit.
      const ids = await spooled(uncertain ? error.xid : undefined);
      this.replaySpool();
      return ids;
    }
  }

  /** Replays one spooled batch, unless it is the batch of a transaction that committed after all. */
  private async replayBatch(items: PendingWrite[], receivedAt: number, xid: string | undefined): Promise<void> {
    if (xid !== undefined) {
      const status = await this.usage.transactionStatus(xid);
      if (status === 'in progress') throw new Error(`transaction ${xid} is still in progress`);
      if (status === 'committed') return;
    }
    await this.usage.write(items, receivedAt);
  }

  /**
   * Gives back what calls took from the counters when their interrupted
   * transaction turns out not to have committed; checked until PostgreSQL can tell.
   */
  private refundIfAborted(xid: string, refund: () => Promise<void>): void {
    let entry = this.uncertain.get(xid);
    if (entry === undefined) {
      entry = [];
      this.uncertain.set(xid, entry);
    }
    entry.push(refund);
    this.resolving ??= (async () => {
      while (this.uncertain.size > 0 && !this.closed) {
        for (const [id, refunds] of [...this.uncertain]) {
          const status = await this.usage.transactionStatus(id).catch(() => 'in progress' as const);
          if (status === 'in progress') continue;
          this.uncertain.delete(id);
          if (status === 'aborted') for (const r of refunds) await r().catch(() => undefined);
        }
        if (this.uncertain.size > 0) await sleep(500);
      }
    })().finally(() => {
      this.resolving = null;
    });
  }

  /** Replays the spool into PostgreSQL in the background, retrying until it is empty. */
  private replaySpool(): void {
    this.replaying ??= (async () => {
      while (this.spool.pending > 0 && !this.closed) {
        try {
          await this.spool.replay((items, at, xid) => this.replayBatch(items, at, xid));
        } catch {
          await sleep(500);
        }
      }
    })().finally(() => {
      this.replaying = null;
    });
  }

  /** A quota counter's units in Redis, seeded from PostgreSQL first when Redis does not hold it. */
  private async sharedUsage(request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>, scope: 'group' | 'app'): Promise<{ used: number; seeded: boolean }> {
    for (let seeded = false; ; seeded = true) {
      const used = await quotaCounter(this.redis, request, scope);
      if (used !== null) return { used, seeded };
      await this.seed(request, scope);
    }
  }

  /**
   * Sets a quota counter to the units PostgreSQL holds for the period, unless
   * another call or instance set it first. A call is admitted only against an
   * existing counter, so when a counter is first created nothing admitted can
   * be missing from the sum. When Redis lost a counter (a restart without
   * persistence), this instance's own calls are committed first; another
   * instance's call committing in the same milliseconds can be missed.
   */
  private seed(request: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>, scope: 'group' | 'app'): Promise<void> {
    const key = quotaKey(request, scope);
    let seeding = this.seeding.get(key);
    if (seeding === undefined) {
      seeding = (async () => {
        // This instance's calls admitted before the counter went missing (Redis lost its data) must be in the sum.
        await this.committer.drain();
        if (this.replaying !== null) await this.replaying;
        const { value: used, snapshot } = await this.usage.snapshotted((rollups) => durableUnits(rollups, request, scope));
        await seedQuota(this.redis, request, scope, used, this.quotaTtl(request.period), snapshot);
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
      // null: Redis is away (fail-open), and this instance decides alone, from the answers PostgreSQL remembers.
      const mine = await this.reach(() => this.withRedis(async () => {
        const claimed = await this.redis.set(mark, PENDING, 'PX', PENDING_MS, 'NX');
        return { claimed: claimed === 'OK', value: claimed === 'OK' ? null : await this.redis.get(mark) };
      }, () => null));
      if (mine === null) return this.meterUnmarked(request, idempotencyKey);
      if (mine.claimed) break;
      const { value } = mine;
      if (value !== null && value !== PENDING) return { ...(JSON.parse(value) as MeterResult), replayed: true };
      if (Date.now() > deadline) throw new UnavailableError('Another call with this idempotency key is still being decided.');
      if (value === PENDING) await sleep(5);
    }
    try {
      const stored = await this.storedReply(request.groupId, idempotencyKey);
      // The mark only spares other instances a wait: failing to set it changes no answer.
      if (stored !== null) {
        await this.redis.set(mark, JSON.stringify(stored), 'PX', REPLY_CACHE_MS).catch(() => undefined);
        return { ...stored, replayed: true };
      }
      const result = await this.admitAndRecord(request);
      // Only recorded calls are remembered: a refused call may be retried under the same key.
      if (result.eventId !== null) await this.redis.set(mark, JSON.stringify(result), 'PX', REPLY_CACHE_MS).catch(() => undefined);
      else await this.redis.del(mark).catch(() => undefined);
      return result;
    } catch (error) {
      await this.redis.del(mark).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The answer PostgreSQL remembers under this key. In fail-open mode, while
   * PostgreSQL is away, none: retries within the last 10 minutes are still
   * recognised by their answer in Redis.
   */
  private async storedReply(groupId: string, idempotencyKey: string): Promise<MeterResult | null> {
    try {
      return (await this.usage.reply(groupId, idempotencyKey)) as MeterResult | null;
    } catch (error) {
      if (this.failOpen && isOutage(error)) return null;
      throw unavailable(error);
    }
  }

  private async meterUnmarked(request: MeterRequest, idempotencyKey: string): Promise<MeterResult> {
    const stored = await this.storedReply(request.groupId, idempotencyKey);
    if (stored !== null) return { ...(stored as MeterResult), replayed: true };
    return this.admitAndRecord(request);
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

/** The units the rollups hold for the group's or the app's quota counter of the period. */
function durableUnits(rollups: RollupStore, pair: Pick<MeterRequest, 'groupId' | 'appId' | 'period'>, scope: 'group' | 'app'): Promise<number> {
  return unitsInPeriod(rollups, pair.groupId, scope === 'group' ? null : pair.appId, pair.period);
}

function unavailable(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  // The cause is kept for the log; the caller hears only that it may retry.
  return new UnavailableError('The usage store cannot be reached right now. Please try again later.', { cause: error });
}
