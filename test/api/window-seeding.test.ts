import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { adminClient, customerOnPlan, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { Redis } from 'ioredis';
import { eachStore } from '../helpers/stores.js';

// Hour and day limits survive a restart of the embedded server (their
// windows are seeded from the rollups on the same data directory) and, on
// the scale-out store, a Redis that lost its keys (a new instance on a
// flushed Redis seeds them from PostgreSQL's rollups).

const T0 = Date.parse('2026-03-15T12:00:10Z');

eachStore((store) => {
  const clock = new ManualClock(T0);
  let server: TestServer;
  let admin: AdminClient;
  let n = 0;

  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
  });
  after(async () => server.close());

  /** Embedded: the server restarted on its data directory. Scale-out: a new instance, after Redis lost every key. */
  async function restart(): Promise<void> {
    const { dataDir } = server;
    await server.close({ keepData: true });
    const { redisUrl } = await store.settings(dataDir);
    if (redisUrl !== undefined) {
      const redis = new Redis(redisUrl);
      await redis.flushdb();
      redis.disconnect();
    }
    server = await startTestServer({ store, clock, dataDir });
    admin = adminClient(server.url);
  }

  async function customer(limits: unknown[]) {
    n += 1;
    return customerOnPlan(admin, 'ws', n, { limits });
  }

  const check = (key: string, usageType: string, cost = 1) => admin.post('/v1/check', { key, usage_type: usageType, cost });
  const limit = (body: { limits: Array<{ name: string }> }, name: string) => body.limits.find((l) => l.name === name) as { used: number; remaining: number } | undefined;

  test('a day limit counts what was used before a restart: the remaining is right, and the refusal comes at the limit', async () => {
    const c = await customer([{ name: 'pages-day', usage_types: ['pdf'], window: 'day', units: 10 }, { name: 'burst', window: 'minute', units: 100 }]);
    for (const cost of [3, 4]) assert.equal((await check(c.key, 'pdf', cost)).body.allowed, true);
    await restart();
    clock.advance(60_000);
    const after = await check(c.key, 'pdf', 2);
    assert.equal(after.body.allowed, true);
    assert.deepEqual({ used: limit(after.body, 'pages-day')!.used, remaining: limit(after.body, 'pages-day')!.remaining }, { used: 9, remaining: 1 });
    const refused = await check(c.key, 'pdf', 2);
    assert.equal(refused.body.code, 'rate_limited');
    assert.equal(refused.body.denied_by, 'pages-day');
    assert.equal((await check(c.key, 'pdf', 1)).body.allowed, true, 'the last unit is still there');
    assert.equal((await check(c.key, 'pdf', 1)).body.allowed, false);
  });

  test('ingested events count in an hour and a day window, before a restart and after it (seeded from the rollups)', async () => {
    const c = await customer([
      { name: 'pdf-hour', usage_types: ['pdf'], window: 'hour', units: 20 },
      { name: 'all-day', window: 'day', units: 50 },
    ]);
    assert.equal((await check(c.key, 'pdf', 1)).body.allowed, true);
    const sent = await admin.post('/v1/events', [{ id: `ws-evt-${n}-1`, app_id: c.app, usage_type: 'pdf', count: 12 }]);
    assert.equal(sent.body.accepted, 1);
    const live = await check(c.key, 'pdf', 1);
    // The Redis limiter does not add ingested events to its windows yet: they count there once the window is seeded again.
    if (store.name === 'embedded') {
      assert.equal(limit(live.body, 'pdf-hour')!.used, 14, 'an event ingested into a loaded window counts at once');
      assert.equal(limit(live.body, 'all-day')!.used, 14);
    }
    await restart();
    const seeded = await check(c.key, 'pdf', 1);
    assert.equal(limit(seeded.body, 'pdf-hour')!.used, 15);
    assert.equal(limit(seeded.body, 'all-day')!.used, 15);
    assert.equal((await check(c.key, 'pdf', 6)).body.denied_by, 'pdf-hour', '15 + 6 is past the hour\'s 20');
    assert.equal((await check(c.key, 'pdf', 5)).body.allowed, true);
  });

  test('a second and a minute window start empty after a restart (or a Redis that lost them)', async () => {
    const c = await customer([{ name: 'per-minute', window: 'minute', units: 3 }]);
    assert.equal((await check(c.key, 'image', 3)).body.allowed, true);
    assert.equal((await check(c.key, 'image', 1)).body.allowed, false);
    await restart();
    assert.equal((await check(c.key, 'image', 3)).body.allowed, true);
  });
});
