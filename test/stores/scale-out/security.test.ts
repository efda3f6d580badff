import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { scaleOutCluster, WEBHOOK_SECRET } from '../../helpers/scale-out.js';
import { assertNoSecret, filesUnder, issueAndUseSecrets } from '../../helpers/secrets-at-rest.js';
import { ADMIN_TOKEN } from '../../helpers/server.js';
import { assertCheckIsolated, assertCustomerEndpointsIsolated, twoTenants } from '../../conformance/isolation-scenario.js';

// Tenant isolation and secrets at rest on the scale-out store: PostgreSQL and Redis, two instances.

const cluster = scaleOutCluster('security');
const METRICS_TOKEN = 'metrics-token-for-scale-out-0123456789';

test("a customer never reaches another group's usage or apps on the scale-out store", { timeout: 120_000 }, async () => {
  // The isolation scenario sends wrong credentials on purpose, many of them from one address.
  const [one, two] = await Promise.all([0, 1].map(() => cluster.spawn({ env: { TOLLGATE_AUTH_FAILURE_LIMIT: '0' } })));
  const tenants = await twoTenants(one!.url, ADMIN_TOKEN, 'so');
  // Asked through the other instance: what it reads comes from the shared store.
  await assertCustomerEndpointsIsolated(two!.url, tenants);
  await assertCheckIsolated(two!.url, ADMIN_TOKEN, tenants);
});

/** Every row of every table of the database, and its functions' source, as text: a dump of what it keeps. */
async function dumpPostgres(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
    );
    assert.ok(tables.length >= 8, `the tables are found: ${tables.map((t) => t.name).join(', ')}`);
    const parts: string[] = [];
    for (const { schema, name } of tables) {
      const { rows } = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)} t`);
      parts.push(`-- ${schema}.${name}`, ...rows.map((r) => r.row));
    }
    const { rows: functions } = await client.query<{ src: string }>(
      `SELECT p.prosrc AS src FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    );
    parts.push(...functions.map((f) => f.src));
    return parts.join('\n');
  } finally {
    await client.end();
  }
}

/** Every key in Redis and its value, whatever its type. */
async function dumpRedis(url: string): Promise<string> {
  const redis = new Redis(url);
  try {
    const parts: string[] = [];
    for (const key of await redis.keys('*')) {
      const type = await redis.type(key);
      const value = type === 'string' ? await redis.get(key)
        : type === 'hash' ? JSON.stringify(await redis.hgetall(key))
          : type === 'zset' ? JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'))
            : type === 'set' ? JSON.stringify(await redis.smembers(key))
              : type === 'list' ? JSON.stringify(await redis.lrange(key, 0, -1)) : `(${type})`;
      parts.push(`${key} ${value}`);
    }
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}

test('PostgreSQL, Redis and the data directory hold no key or token in clear, only their hashes', { timeout: 120_000 }, async () => {
  const dataDir = cluster.tempDir();
  const server = await cluster.spawn({ dataDir, env: { TOLLGATE_METRICS_TOKEN: METRICS_TOKEN } });
  const { secrets, keyHash } = await issueAndUseSecrets(server.url, ADMIN_TOKEN);
  const all = { ...secrets, metricsToken: METRICS_TOKEN, webhookServerSecret: WEBHOOK_SECRET };

  const database = await dumpPostgres(cluster.postgres.url);
  assertNoSecret(database, all, 'PostgreSQL');
  assert.ok(database.includes(keyHash), "the key's hash is in the dump: the dump reads the catalogue");
  const redis = await dumpRedis(cluster.redis.url);
  assert.ok(redis.length > 0, 'Redis holds the counters');
  assertNoSecret(redis, all, 'Redis');
  for (const [path, text] of filesUnder(dataDir)) assertNoSecret(text, all, path);
});
