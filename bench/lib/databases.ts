/**
 * Throwaway PostgreSQL and Redis servers for the scale-out benchmark: the
 * tests' own helpers (test/helpers/postgres.ts and redis.ts: initdb with
 * trust authentication, fsync on, Redis without persistence, 127.0.0.1 and
 * free ports, temporary directories), in the shape the benchmark uses.
 */
import { startPostgres as startTestPostgres } from '../../test/helpers/postgres.js';
import { startRedis as startTestRedis } from '../../test/helpers/redis.js';

export { REDIS_SERVER } from '../../test/helpers/redis.js';

export interface DatabaseServer {
  url: string;
  /** The server process (for PostgreSQL the postmaster; its backends are its children). */
  pid: number;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

function once(server: { url: string; pid(): number; stop(): Promise<void> }): DatabaseServer {
  let stopped: Promise<void> | undefined;
  return { url: server.url, pid: server.pid(), stop: () => (stopped ??= server.stop()) };
}

export async function startPostgres(): Promise<DatabaseServer> {
  return once(await startTestPostgres());
}

export async function startRedis(): Promise<DatabaseServer> {
  return once(await startTestRedis());
}
