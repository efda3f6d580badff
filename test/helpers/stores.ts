import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import type { Settings } from '../../src/config.js';
import { migrate } from '../../src/store/postgres/schema.js';
import { serverMissing } from './free-port.js';
import { postgresBinaries, startPostgres, type TestPostgres } from './postgres.js';
import { REDIS_SERVER, startRedis, type TestRedis } from './redis.js';
import { WEBHOOK_SECRET } from './scale-out.js';

export type StoreName = 'embedded' | 'scale-out';

/** A store an API test runs on: its settings for one server, on fresh data each time. */
export interface TestStore {
  name: StoreName;
  /**
   * The settings that put a server on this store: for a new data directory,
   * data of its own (a new database); for one seen before, the same data,
   * as a server restarted on its data directory finds its SQLite file.
   */
  settings(dataDir: string): Promise<Partial<Settings>>;
}

const STORES: readonly StoreName[] = ['embedded', 'scale-out'];

/**
 * The stores the API tests run on: both, or the one TOLLGATE_TEST_STORES
 * names (`embedded`, `scale-out`, or both comma-separated).
 */
export function storesToRun(env: NodeJS.ProcessEnv = process.env): StoreName[] {
  const asked = env.TOLLGATE_TEST_STORES;
  if (asked === undefined || asked.trim() === '') return [...STORES];
  const names = asked.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !STORES.includes(name as StoreName));
  if (unknown.length > 0) throw new Error(`TOLLGATE_TEST_STORES: ${unknown.join(', ')} is not a store (${STORES.join(', ')})`);
  return STORES.filter((name) => names.includes(name));
}

const embedded: TestStore = { name: 'embedded', settings: async () => ({}) };

/** Each case's Redis database: cases never see each other's counters. */
const REDIS_DATABASES = 256;

/**
 * The scale-out store for one test file: one throwaway PostgreSQL (not
 * durable: no test here crashes it) and one Redis, started when the first
 * case asks and stopped when the file's tests end. Each case gets a fresh
 * database, copied from a migrated template (faster than migrating each),
 * and a Redis database of its own.
 */
function scaleOut(): TestStore {
  let servers: Promise<{ postgres: TestPostgres; redis: TestRedis }> | undefined;
  const cases = new Map<string, Promise<Partial<Settings>>>();
  const start = async () => {
    const [postgres, redis] = await Promise.all([startPostgres({ durable: false }), startRedis({ databases: REDIS_DATABASES })]);
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE api_template');
    } finally {
      await admin.end();
    }
    const template = new pg.Pool({ connectionString: databaseUrl(postgres, 'api_template') });
    try {
      await migrate(template);
    } finally {
      await template.end();
    }
    return { postgres, redis };
  };
  after(async () => {
    const started = await servers?.catch(() => undefined);
    await Promise.all([started?.postgres.stop(), started?.redis.stop()]);
  });
  return {
    name: 'scale-out',
    settings(dataDir) {
      const known = cases.get(dataDir);
      if (known !== undefined) return known;
      const n = cases.size + 1;
      if (n >= REDIS_DATABASES) throw new Error(`more than ${REDIS_DATABASES - 1} scale-out servers in one test file`);
      const fresh = (async () => {
        const { postgres, redis } = await (servers ??= start());
        const admin = new pg.Client({ connectionString: postgres.url });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE api_case_${n} TEMPLATE api_template`);
        } finally {
          await admin.end();
        }
        return { databaseUrl: databaseUrl(postgres, `api_case_${n}`), redisUrl: `${redis.url}/${n}`, webhookSecret: WEBHOOK_SECRET };
      })();
      cases.set(dataDir, fresh);
      return fresh;
    },
  };
}

function databaseUrl(postgres: TestPostgres, database: string): string {
  const url = new URL(postgres.url);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * The stores a test file's API tests run on (see `storesToRun`); call it
 * once, at the top level of the file. Where PostgreSQL or Redis is not
 * installed the scale-out runs are skipped, with the reason, except under
 * CI=true, where they fail.
 */
export function testStores(): TestStore[] {
  return storesToRun().flatMap((name): TestStore[] => {
    if (name === 'embedded') return [embedded];
    const missing = postgresBinaries() === null ? 'PostgreSQL 15 server binaries not found' : existsSync(REDIS_SERVER) ? null : `${REDIS_SERVER} not found`;
    if (missing !== null && process.env.CI !== 'true') {
      test('on the scale-out store', (t) => serverMissing(t, missing));
      return [];
    }
    return [scaleOut()];
  });
}

/**
 * Runs `suite` once for each store of `testStores()`, inside a `describe`
 * named after it: the same tests, the same answers expected, on each store.
 */
export function eachStore(suite: (store: TestStore) => void): void {
  for (const store of testStores()) describe(`on the ${store.name} store`, () => suite(store));
}
