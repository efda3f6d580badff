import type { Clock } from '../clock.js';
import type { Scheduler } from '../scheduler.js';
import type { Config } from '../config.js';
import type { CommitObserver } from '../engine/group-commit.js';
import type { Store } from './store.js';

/**
 * The store the configuration asks for: the embedded SQLite store in the
 * data directory, or the scale-out store on PostgreSQL and Redis. Each is
 * loaded only when used, so the embedded mode never loads the PostgreSQL
 * and Redis clients.
 */
export async function openStore(config: Config, clock: Clock, commitObserver?: CommitObserver, scheduler?: Scheduler): Promise<Store> {
  const idempotencyWindowMs = config.idempotencyWindowDays * 86_400_000;
  const optional = { ...(commitObserver === undefined ? {} : { commitObserver }), ...(scheduler === undefined ? {} : { scheduler }) };
  const { store } = config;
  switch (store.kind) {
    case 'scale-out': {
      const { ScaleOutStore } = await import('./scale-out/scale-out-store.js');
      return ScaleOutStore.open({
        databaseUrl: store.databaseUrl, redisUrl: store.redisUrl, clock, idempotencyWindowMs, dataDir: config.dataDir, onStoreDown: store.onStoreDown,
        limits: store.limits, ...optional,
      });
    }
    case 'embedded': {
      const { SqliteStore } = await import('./sqlite/sqlite-store.js');
      return new SqliteStore({ dataDir: config.dataDir, clock, idempotencyWindowMs, rollupFlushMs: store.rollupFlushMs, ...optional });
    }
  }
}

/** Where the store keeps its data, for the start-up banner; passwords are never shown. */
export function describeStore(config: Config): string {
  const { store } = config;
  switch (store.kind) {
    case 'embedded':
      return `embedded (SQLite in ${config.dataDir})`;
    case 'scale-out': {
      const limits = store.limits.mode === 'relaxed' ? `relaxed limits, synced every ${store.limits.syncMs} ms` : 'strict limits';
      return `scale-out (PostgreSQL ${redactUrl(store.databaseUrl)}, Redis ${redactUrl(store.redisUrl)}, ${limits})`;
    }
  }
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
