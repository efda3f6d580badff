import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { Redis } from 'ioredis';
import { serverMissing } from '../../helpers/free-port.js';
import { postgresBinaries, startPostgres } from '../../helpers/postgres.js';
import { startRedis } from '../../helpers/redis.js';

// The scale-out store runs on a real PostgreSQL 15 and a real Redis, each
// started by the tests in a temporary directory on a free loopback port.

test('a throwaway PostgreSQL 15 starts, answers, and stops', { timeout: 60_000 }, async (t) => {
  if (postgresBinaries() === null) return serverMissing(t, 'PostgreSQL server binaries not installed');
  const server = await startPostgres();
  try {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    await client.end();
    assert.match(rows[0]!.server_version, /^15\./);
  } finally {
    await server.stop();
  }
});

test('a throwaway Redis starts, runs a Lua script, and stops', { timeout: 30_000 }, async (t) => {
  let server;
  try {
    server = await startRedis();
  } catch (error) {
    return serverMissing(t, (error as Error).message);
  }
  try {
    const client = new Redis(server.url);
    const result = await client.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, 'tollgate:test', 5);
    client.disconnect();
    assert.equal(result, 5);
  } finally {
    await server.stop();
  }
});
