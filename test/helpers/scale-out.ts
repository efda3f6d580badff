import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { ADMIN_TOKEN } from './server.js';
import { spawnServer, type ServerProcess } from './process.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { startRedis, type TestRedis } from './redis.js';

/** The webhook server secret every scale-out instance of a test shares. */
export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789abcdef0123';

export interface ScaleOutCluster {
  postgres: TestPostgres;
  redis: TestRedis;
  /** A fresh temporary directory, removed when the file's tests end. */
  tempDir(): string;
  /**
   * Starts `tollgate serve` on these servers (`embedded`: on its own SQLite
   * store instead) in `dataDir` or a fresh directory, with `env` on top;
   * stopped when the file's tests end.
   */
  spawn(options?: { env?: Record<string, string>; dataDir?: string; embedded?: boolean }): Promise<ServerProcess>;
}

/**
 * A throwaway PostgreSQL and Redis for one test file, started before its
 * tests (a server that cannot start fails them, never skips them), and the
 * Tollgate servers the tests start on them; everything is stopped and
 * removed when the file's tests end. Call it at the top level of the file.
 */
export function scaleOutCluster(prefix: string): ScaleOutCluster {
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  let starting: Promise<void> | undefined;
  // The file's own `before` hooks may run alongside this one: whatever needs the servers waits for them.
  const started = () => (starting ??= Promise.all([startPostgres(), startRedis()]).then(([postgres, redis]) => {
    cluster.postgres = postgres;
    cluster.redis = redis;
  }));
  const cluster: ScaleOutCluster = {
    postgres: undefined as unknown as TestPostgres,
    redis: undefined as unknown as TestRedis,
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), `tollgate-${prefix}-`));
      dirs.push(dir);
      return dir;
    },
    async spawn({ env = {}, dataDir, embedded = false } = {}) {
      await started();
      const shared: Record<string, string> = embedded ? {} : {
        TOLLGATE_DATABASE_URL: cluster.postgres.url, TOLLGATE_REDIS_URL: cluster.redis.url, TOLLGATE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      };
      const server = await spawnServer(dataDir ?? cluster.tempDir(), { env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN, ...shared, ...env } });
      servers.push(server);
      return server;
    },
  };
  before(started);
  after(async () => {
    await starting?.catch(() => undefined);
    await Promise.all(servers.map(async (s) => {
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
      await s.exited;
    }));
    await Promise.all([cluster.postgres?.stop(), cluster.redis?.stop()]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return cluster;
}
