import type { Clock } from '../clock.js';
import type { Scheduler } from '../scheduler.js';
import type { Config } from '../config.js';
import type { CommitObserver } from './group-commit.js';
import type { Store } from './store.js';

/**
 * The store the configuration asks for: the embedded SQLite store in the
 * data directory, or, when TOLLGATE_DATABASE_URL and TOLLGATE_REDIS_URL are
 * set, the scale-out store on PostgreSQL and Redis. Each is loaded only when
 * used, so the embedded mode never loads the PostgreSQL and Redis clients.
 */
export async function openStore(config: Config, clock: Clock, commitObserver?: CommitObserver, scheduler?: Scheduler): Promise<Store> {
  const idempotencyWindowMs = config.idempotencyWindowDays * 86_400_000;
  if (config.databaseUrl !== undefined && config.redisUrl !== undefined) {
    const { ScaleOutStore } = await import('./scale-out/scale-out-store.js');
    return ScaleOutStore.open({
      databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, clock, idempotencyWindowMs, dataDir: config.dataDir, onStoreDown: config.onStoreDown,
      limits: config.limitsMode === 'relaxed' ? { mode: 'relaxed', syncMs: config.limitsSyncMs } : { mode: 'strict' },
      ...(commitObserver === undefined ? {} : { commitObserver }),
      ...(scheduler === undefined ? {} : { scheduler }),
    });
  }
  const { SqliteStore } = await import('./sqlite/sqlite-store.js');
  return new SqliteStore({ dataDir: config.dataDir, clock, idempotencyWindowMs, rollupFlushMs: config.rollupFlushMs, ...(commitObserver === undefined ? {} : { commitObserver }), ...(scheduler === undefined ? {} : { scheduler }) });
}

/** Where the store keeps its data, for the start-up banner; passwords are never shown. */
export function describeStore(config: Config): string {
  if (config.databaseUrl === undefined || config.redisUrl === undefined) return `embedded (SQLite in ${config.dataDir})`;
  const limits = config.limitsMode === 'relaxed' ? `relaxed limits, synced every ${config.limitsSyncMs} ms` : 'strict limits';
  return `scale-out (PostgreSQL ${redactUrl(config.databaseUrl)}, Redis ${redactUrl(config.redisUrl)}, ${limits})`;
}

export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable URL)';
  }
}
