import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitUntil, type ThrowawayServer } from './free-port.js';

/** Redis persists nothing: after `halt` and `resume` it is empty, as after a crash without persistence. */
export type TestRedis = ThrowawayServer;

export const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * A throwaway Redis on 127.0.0.1 and a free port, nothing persisted, in a
 * temporary directory; `databases` numbered databases (16 by default), for
 * tests that give each case its own (`redis://host:port/<n>`).
 */
export async function startRedis(options: { databases?: number } = {}): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} not found (apt-get install redis-server)`);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess;
  const launch = async () => {
    const child: ChildProcess = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--databases', String(options.databases ?? 16)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server = child;
    try {
      await waitUntil('Redis', async () => {
        if (child.exitCode !== null) throw new Error('redis-server exited');
        const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on('error', () => undefined); // a refused probe is expected until the server is up
        try {
          await client.connect();
          await client.ping();
        } finally {
          client.disconnect();
        }
      });
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  };
  const halt = async () => {
    if (server.exitCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  };
  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    halt,
    resume: launch,
    pid: () => server.pid!,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
