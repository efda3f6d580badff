import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Database as DB, Statement } from 'better-sqlite3';
import type { Clock } from '../../clock.js';
import { systemScheduler, type Cancel, type Scheduler } from '../../scheduler.js';
import type { Span } from '../../domain/periods.js';
import type { IngestEvent, IngestOutcome, LimitState, MeterRequest, MeterResult } from '../../domain/metering.js';
import type { RollupLevel, RollupQuery, RollupSum } from '../../domain/rollups.js';
import { rollupSeeds } from '../../engine/counter-seeder.js';
import type { CommitObserver } from '../../engine/group-commit.js';
import { MeteringEngine } from '../../engine/metering-engine.js';
import type { EventMetering, LimitRead, StoreBacklog } from '../../engine/ports.js';
import { creditSource } from '../credit-source.js';
import { InProcessLimiter } from '../../limits/in-process-limiter.js';
import type { Page, PageRequest, Store, StoredStatement } from '../store.js';
import { DataDirLock } from '../data-dir-lock.js';
import { openDatabase } from './database.js';
import { RollupWriter } from './rollup-writer.js';
import { migrate } from './schema.js';
import { SqliteAlerts } from './sqlite-alerts.js';
import { SqliteCatalog } from './sqlite-catalog.js';
import { SqliteCredits } from './sqlite-credits.js';
import { SqliteReplies } from './sqlite-replies.js';
import { SqliteEndedSessions } from './sqlite-sessions.js';
import { SqliteStatements } from './sqlite-statements.js';
import { WriterClient } from './writer-client.js';

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

/**
 * The embedded store: one SQLite file in WAL mode, used by this process
 * alone, wired to the metering engine. Limits are decided in memory on the
 * main thread (synchronously, so atomically); each admitted call's event is
 * then committed with its neighbours in one transaction (group commit,
 * synchronous=FULL) by a writer thread, before the caller hears back, so the
 * fsync never stalls request handling. The writer keeps the rollups from
 * committed events behind a watermark written in the same transaction, so a
 * crash loses nothing: events past the watermark are rolled up again at the
 * next open. The main thread reads, and writes the catalogue.
 */
export class SqliteStore extends SqliteCatalog implements Store {
  readonly path: string;
  private readonly database: DB;
  private readonly lock: DataDirLock;
  private readonly writer: WriterClient;
  private readonly engine: MeteringEngine<InProcessLimiter>;
  private readonly statements: SqliteStatements;
  private readonly background: Cancel[] = [];
  private readonly ping;
  private readonly sumRollup: Record<RollupLevel, Statement>;
  /** Alerts and the webhook outbox, in the same SQLite file. */
  readonly alerts: SqliteAlerts;
  /** Credit grants and debts, in the same SQLite file. */
  readonly credits: SqliteCredits;
  /** Dashboard sessions signed out of, in the same SQLite file. */
  readonly endedSessions: SqliteEndedSessions;
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    const file = openFile(options.dataDir);
    super(file.db);
    ({ db: this.database, lock: this.lock, path: this.path } = file);
    try {
      this.ping = this.database.prepare('SELECT 1 AS ok');
      this.sumRollup = sumRollupStatements(this.database);
      this.statements = new SqliteStatements(this.database);
      this.alerts = new SqliteAlerts(this.database);
      this.credits = new SqliteCredits(this.database);
      this.endedSessions = new SqliteEndedSessions(this.database);
      this.writer = new WriterClient({ path: this.path, rollupFlushMs: options.rollupFlushMs });
      const writer = this.writer;
      this.engine = new MeteringEngine({
        writer: {
          // The writer thread commits messages in order, so a second batch can wait there while the first is fsynced.
          concurrency: 2,
          commit: async (items, receivedAt) => (await writer.commit(items, receivedAt)).map((id) => ({ id })),
          failed: (_error, giveBack) => giveBack(),
          caughtUp: async () => undefined,
        },
        replies: new SqliteReplies(this.database),
        seeds: rollupSeeds(this),
        credits: creditSource(this.credits, () => options.clock.now()),
        limiter: (seeder) => new InProcessLimiter(seeder),
        now: () => options.clock.now(),
        ...(options.commitObserver === undefined ? {} : { commitObserver: options.commitObserver }),
      });
      const engine = this.engine;
      // A grant made or voided reaches the balance this process spends from at once.
      this.credits.onChange((groupId) => engine.creditsChanged(groupId).catch(() => undefined));
    } catch (error) {
      this.lock.release();
      throw error;
    }

    const scheduler = options.scheduler ?? systemScheduler();
    this.background.push(
      scheduler.every(60_000, () => this.engine.limiter.sweep(options.clock.now())),
      // Event ids are kept 5 minutes past the window: an event may be stamped up to 5 minutes ahead.
      scheduler.every(3_600_000, () => this.writer.prune(options.clock.now() - options.idempotencyWindowMs - 5 * 60_000).catch(() => undefined)),
    );
  }

  async healthy(): Promise<boolean> {
    return !this.closed && this.ping.get() !== undefined;
  }

  backlog(): StoreBacklog {
    return { ...this.engine.backlog(), rollupPendingEvents: this.writer.rollupPending, spooledBatches: 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of this.background) cancel();
    await this.engine.close();
    await this.writer.close();
    this.database.pragma('wal_checkpoint(TRUNCATE)');
    this.database.close();
    this.lock.release();
  }

  // ------------------------------------------------------------ metering: the engine's

  meter(request: MeterRequest): Promise<MeterResult> {
    return this.engine.meter(request);
  }

  settle(request: MeterRequest, actualCost: number): Promise<void> {
    return this.engine.settle(request, actualCost);
  }

  ingest(events: readonly IngestEvent[], meteringOf?: (event: IngestEvent) => EventMetering): Promise<IngestOutcome[]> {
    return this.engine.ingest(events, meteringOf);
  }

  readLimits(request: LimitRead): Promise<LimitState[]> {
    return this.engine.read(request);
  }

  periodUsage(groupId: string, appId: string, period: Span): Promise<{ groupUsed: number; appUsed: number }> {
    return this.engine.periodUsage(groupId, appId, period);
  }

  // ------------------------------------------------------------ rollups and statements

  async sumRollups(query: RollupQuery): Promise<RollupSum[][]> {
    await this.writer.flushRollups();
    return query.segments.map((segment) => this.sumRollup[segment.level].all(query.groupId, query.dimension, segment.start, segment.end) as RollupSum[]);
  }

  closeStatement(statement: StoredStatement): Promise<StoredStatement> {
    return this.statements.closeStatement(statement);
  }

  getStatement(groupId: string, period: string): Promise<StoredStatement | null> {
    return this.statements.getStatement(groupId, period);
  }

  listStatements(groupId: string, page: PageRequest): Promise<Page<StoredStatement>> {
    return this.statements.listStatements(groupId, page);
  }
}

/** Locks the data directory and opens the file, its schema up to date and the rollups of its last run recovered. */
function openFile(dataDir: string): { db: DB; lock: DataDirLock; path: string } {
  mkdirSync(dataDir, { recursive: true });
  const lock = DataDirLock.acquire(dataDir);
  try {
    const path = join(dataDir, 'tollgate.db');
    const db = openDatabase(path);
    migrate(db);
    new RollupWriter(db).recover();
    return { db, lock, path };
  } catch (error) {
    lock.release();
    throw error;
  }
}

function sumRollupStatements(db: DB): Record<RollupLevel, Statement> {
  // A field is shared when every row has it (COUNT(col) skips NULL: "varies") and all agree.
  const sum = (level: RollupLevel) => db.prepare(`SELECT value, SUM(count) AS count,
      ${['app_id', 'usage_type', 'request_args_hash'].map((f) => `CASE WHEN COUNT(${f}_sole) = COUNT(*) AND MIN(${f}_sole) = MAX(${f}_sole) THEN MIN(${f}_sole) END AS ${camel(f)}`).join(', ')}
    FROM rollup_${level} WHERE group_id = ? AND dimension = ? AND bucket >= ? AND bucket < ? GROUP BY value`);
  return { quarter: sum('quarter'), hour: sum('hour'), day: sum('day') };
}

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
