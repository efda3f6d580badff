import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Clock } from '../../clock.js';
import { systemScheduler, type Cancel, type Scheduler } from '../../scheduler.js';
import { DomainError, UnavailableError } from '../../domain/errors.js';
import type { IngestEvent, IngestOutcome, LimitState, MeterRequest, MeterResult } from '../../domain/metering.js';
import type { Span } from '../../domain/periods.js';
import type { RollupQuery, RollupSum } from '../../domain/rollups.js';
import { rollupSeeds } from '../../engine/counter-seeder.js';
import type { CommitObserver } from '../../engine/group-commit.js';
import { MeteringEngine } from '../../engine/metering-engine.js';
import type { EventMetering, LimitRead, Limiter, StoreBacklog } from '../../engine/ports.js';
import { creditSource } from '../credit-source.js';
import { PgAlerts } from '../postgres/pg-alerts.js';
import { PgCatalog, PG_TYPES } from '../postgres/pg-catalog.js';
import { PgCredits } from '../postgres/pg-credits.js';
import { PgUsage } from '../postgres/pg-usage.js';
import { PgUsageWriter } from '../postgres/pg-usage-writer.js';
import { PgStatements } from '../postgres/pg-statements.js';
import { PgEndedSessions } from '../postgres/pg-sessions.js';
import { ensurePartitions, migrate } from '../postgres/schema.js';
import { UncertainCommits } from '../postgres/uncertain-commits.js';
import { RedisCounters, RedisStrictLimiter, type RedisCountersOptions } from '../redis/redis-strict-limiter.js';
import type { Page, PageRequest, Store, StoredStatement } from '../store.js';
import { DataDirLock } from '../data-dir-lock.js';
import { isOutage } from '../outage.js';
import { CachedCatalog, CatalogCache, CatalogInvalidation } from './catalog-cache.js';
import { FailOpenLimiter, type DurableUnits } from './fail-open-limiter.js';
import { FailOpenRedis, redisRequired, type RedisPath } from './redis-path.js';
import { RelaxedLimits } from './relaxed-limits.js';
import { ReplyMarks } from './reply-marks.js';
import { Spool } from './spool.js';
import { SpoolReplay } from './spool-replay.js';
import { SpoolingWriter } from './spooling-writer.js';

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

/**
 * The scale-out store: any number of stateless instances share one
 * PostgreSQL (durable state) and one Redis (counters). It is the wiring of
 * the metering engine's ports to them; each mode is an implementation of a
 * port (strict or relaxed limiter, fail-open wrapper, spooling writer).
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
export class ScaleOutStore extends CachedCatalog implements Store {
  private readonly engine: MeteringEngine;
  private readonly usage: PgUsage;
  private readonly statements: PgStatements;
  private readonly spool: Spool;
  private readonly replay: SpoolReplay;
  private readonly uncertain: UncertainCommits;
  private readonly path: RedisPath;
  private readonly background: Cancel[] = [];
  /** Alerts and the webhook outbox, in PostgreSQL. */
  readonly alerts: PgAlerts;
  /** Credit grants and debts, in PostgreSQL. */
  readonly credits: PgCredits;
  /** Dashboard sessions signed out of, in PostgreSQL: shared by every instance. */
  readonly endedSessions: PgEndedSessions;
  private closed = false;

  private constructor(private readonly options: ScaleOutStoreOptions, private readonly parts: Connected) {
    const { pool, redis } = parts;
    super(new PgCatalog(pool), parts.cache, parts.invalidation);
    const scheduler = options.scheduler ?? systemScheduler();
    this.usage = new PgUsage(pool);
    this.statements = new PgStatements(pool);
    this.alerts = new PgAlerts(pool);
    this.credits = new PgCredits(pool);
    this.endedSessions = new PgEndedSessions(pool);
    this.spool = new Spool(join(options.dataDir, 'spool'));
    this.replay = new SpoolReplay(this.spool, this.usage, scheduler);
    this.uncertain = new UncertainCommits((xid) => this.usage.transactionStatus(xid), scheduler);
    const failOpen = options.onStoreDown === 'open';
    this.path = failOpen ? new FailOpenRedis(redis, scheduler) : redisRequired;
    const pgWriter = new PgUsageWriter(this.usage, this.uncertain, () => this.replay.caughtUp());
    const { usage } = this;
    this.engine = new MeteringEngine({
      writer: failOpen ? new SpoolingWriter(pgWriter, this.spool, this.replay) : pgWriter,
      replies: new ReplyMarks(redis, this.path, (groupId, key) => usage.reply(groupId, key)),
      // Read in one snapshot, which the counter remembers: usage committed in it is not added to the counter again.
      seeds: (ref, spans) => usage.counterSeeds(ref, spans),
      credits: creditSource(this.credits, () => options.clock.now()),
      limiter: (seeder) => this.limiter({ redis, seeder, now: () => options.clock.now(), periodOf: (g, ts) => this.periodOf(g, ts) }, scheduler),
      now: () => options.clock.now(),
      ...(options.commitObserver === undefined ? {} : { commitObserver: options.commitObserver }),
    });
    // A grant made or voided here reaches the shared balance at once (the credit hash in Redis); one made on another instance did there.
    this.credits.onChange((groupId) => this.engine.creditsChanged(groupId).catch(() => undefined));
    // Left by an earlier run that stopped while PostgreSQL was away.
    if (this.spool.pending > 0) this.replay.start();
    this.background.push(
      scheduler.every(3_600_000, () => usage.prune(options.clock.now() - options.idempotencyWindowMs - 5 * 60_000)),
      scheduler.every(86_400_000, () => ensurePartitions(pool, options.clock.now())),
      // Keeps the credit uses that every credit read sums over few (each batch of writes appends its own).
      scheduler.every(60_000, () => this.credits.fold()),
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
      return new ScaleOutStore(options, { pool, redis, lock, cache, invalidation });
    } catch (error) {
      lock.release();
      redis.disconnect();
      subscriber.disconnect();
      await pool.end();
      throw error;
    }
  }

  /** The limiter of the configured mode, on the shared counters. */
  private limiter(shared: RedisCountersOptions, scheduler: Scheduler): Limiter {
    const { options, parts, path } = this;
    const durableUnits: DurableUnits = async (groupId, limit, period) => (await rollupSeeds(this.usage)({ ...limit, groupId }, [period])).units[0]!;
    const limits = options.limits ?? { mode: 'strict' };
    if (limits.mode === 'relaxed') {
      const counters = new RedisCounters(shared);
      return new RelaxedLimits({
        redis: parts.redis, clock: options.clock, scheduler, syncMs: limits.syncMs, failOpen: options.onStoreDown === 'open', isOutage,
        sharedUsage: (groupId, limit, period) => counters.shared(groupId, limit, period), durableUsage: durableUnits, periodOf: (g, ts) => this.periodOf(g, ts),
        credits: counters,
      });
    }
    const strict = new RedisStrictLimiter(shared);
    const durableCredits = creditSource(this.credits, () => options.clock.now());
    return path instanceof FailOpenRedis ? new FailOpenLimiter(strict, path, durableUnits, (g, period, c) => durableCredits.load(g, period, c.periodGrant)) : strict;
  }

  backlog(): StoreBacklog {
    // Rollup rows commit in the same transaction as their events: none are ever pending here.
    return { ...this.engine.backlog(), rollupPendingEvents: 0, spooledBatches: this.spool.pending };
  }

  async healthy(): Promise<boolean> {
    if (this.closed) return false;
    // Fail-open: this instance serves whatever the stores do.
    if (this.options.onStoreDown === 'open') return true;
    try {
      await Promise.all([this.parts.pool.query('SELECT 1'), this.parts.redis.ping()]);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of this.background) cancel();
    this.path.close();
    this.replay.close();
    this.uncertain.close();
    await this.engine.close();
    // Whatever is still spooled is replayed at the next start.
    await this.spool.close();
    this.parts.invalidation.close();
    this.parts.redis.disconnect();
    await this.parts.pool.end();
    this.parts.lock.release();
  }

  // ------------------------------------------------------------ metering: the engine's

  meter(request: MeterRequest): Promise<MeterResult> {
    return reach(() => this.engine.meter(request));
  }

  settle(request: MeterRequest, actualCost: number): Promise<void> {
    return reach(() => this.engine.settle(request, actualCost));
  }

  ingest(events: readonly IngestEvent[], meteringOf?: (event: IngestEvent) => EventMetering): Promise<IngestOutcome[]> {
    return reach(() => this.engine.ingest(events, meteringOf));
  }

  readLimits(request: LimitRead): Promise<LimitState[]> {
    return reach(() => this.engine.read(request));
  }

  periodUsage(groupId: string, appId: string, period: Span): Promise<{ groupUsed: number; appUsed: number }> {
    return reach(() => this.engine.periodUsage(groupId, appId, period));
  }

  // ------------------------------------------------------------ rollups and statements

  sumRollups(query: RollupQuery): Promise<RollupSum[][]> {
    return reach(() => this.usage.sumRollups(query));
  }

  closeStatement(statement: StoredStatement): Promise<StoredStatement> {
    return reach(() => this.statements.closeStatement(statement));
  }

  getStatement(groupId: string, period: string): Promise<StoredStatement | null> {
    return reach(() => this.statements.getStatement(groupId, period));
  }

  listStatements(groupId: string, page: PageRequest): Promise<Page<StoredStatement>> {
    return reach(() => this.statements.listStatements(groupId, page));
  }
}

/** What `open` connected to, for the constructor. */
interface Connected {
  pool: pg.Pool;
  redis: Redis;
  lock: DataDirLock;
  cache: CatalogCache;
  invalidation: CatalogInvalidation;
}

/** Turns a failure to reach Redis or PostgreSQL into a 503 the caller can retry. */
async function reach<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof DomainError) throw error;
    // The cause is kept for the log; the caller hears only that it may retry.
    throw new UnavailableError('The usage store cannot be reached right now. Please try again later.', { cause: error });
  }
}
