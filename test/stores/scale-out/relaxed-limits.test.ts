import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { Redis } from 'ioredis';
import { ManualClock } from '../../../src/clock.js';
import { billingPeriod } from '../../../src/domain/periods.js';
import { isOutage } from '../../../src/store/outage.js';
import { RelaxedLimits } from '../../../src/store/scale-out/relaxed-limits.js';
import { counterKey, readCounter, readCounters, seedCounter } from '../../../src/store/redis/redis-limiter.js';
import type { MeterRequest } from '../../../src/domain/metering.js';
import { shorthandLimits, UNLIMITED, type Shorthand } from '../../helpers/limits.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';

// Two relaxed limiters play two instances on one real Redis; the test
// decides when each syncs, so what each sees, and the overshoot relaxed mode
// allows, are exact.

const NOW = Date.parse('2026-11-10T12:00:10Z');
const period = billingPeriod(NOW, 'UTC');
let server: TestRedis;
let redis: Redis;
let clock: ManualClock;
/** Units "PostgreSQL" holds, by group or app id: what a lost counter is seeded from. */
let durable: Map<string, number>;
const open: RelaxedLimits[] = [];

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1_000 });
  redis.on('error', () => undefined);
  await new Promise((resolve) => redis.once('ready', resolve));
});
after(async () => {
  redis.disconnect();
  await server.stop();
});
beforeEach(async () => {
  while (open.length > 0) await open.pop()!.close();
  await redis.flushall();
  clock = new ManualClock(NOW);
  durable = new Map();
});

/** These plans use no credits: nothing here may touch them. */
const NO_CREDITS = {
  chargeOne: () => Promise.reject(new Error('no credits here')),
  charge: () => Promise.reject(new Error('no credits here')),
  giveBack: () => Promise.reject(new Error('no credits here')),
  mergeCredits: () => Promise.reject(new Error('no credits here')),
};

function instance(failOpen = false): RelaxedLimits {
  const limits = new RelaxedLimits({
    redis, clock, syncMs: 3_600_000, failOpen, isOutage, periodOf: async () => period, credits: NO_CREDITS,
    async sharedUsage(groupId, limit, p) {
      const key = counterKey(groupId, limit, p.start);
      for (let seeded = false; ; seeded = true) {
        const used = await readCounter(redis, key);
        if (used !== null) return { used, seeded };
        await seedCounter(redis, key, durable.get(limit.scopeId) ?? 0, 86_400_000);
      }
    },
    async durableUsage(_groupId, limit) {
      return durable.get(limit.scopeId) ?? 0;
    },
  });
  open.push(limits);
  return limits;
}

function call(limits: Partial<Shorthand>, appId = 'app-a', cost = 1): MeterRequest {
  return {
    now: clock.now(), groupId: 'grp', appId, keyId: 'key', period, mode: 'record', usageType: 'image', requestArgsHash: '', cost,
    limits: shorthandLimits({ ...UNLIMITED, ...limits }, { groupId: 'grp', appId }),
  };
}

/** The group's and the app's units as an instance sees them. */
async function usage(limiter: RelaxedLimits, request: MeterRequest): Promise<{ groupUsed: number; appUsed: number }> {
  const states = await limiter.read(request);
  return { groupUsed: states.find((s) => s.name === 'month')!.used, appUsed: states.find((s) => s.name === 'app-month')!.used };
}

/** The shared group and app counters in Redis. */
function sharedCounters(request: MeterRequest): Promise<Array<number | null>> {
  const period = request.limits.filter((l) => l.window === 'billing_period');
  return readCounters(redis, period.map((l) => counterKey(request.groupId, l, request.period.start)));
}

async function admitMany(limiter: RelaxedLimits, n: number, limits: Partial<Shorthand>, appId?: string): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i += 1) if ((await limiter.admit(call(limits, appId))).allowed) allowed += 1;
  return allowed;
}

test('each instance sees the others\' calls from its next sync on', async () => {
  const [a, b] = [instance(), instance()];
  assert.equal(await admitMany(a, 5, {}), 5);
  assert.equal(await admitMany(b, 3, {}, 'app-b'), 3);
  // Nothing exchanged yet: each sees only its own.
  assert.deepEqual(await usage(a, call({})), { groupUsed: 5, appUsed: 5 });
  assert.deepEqual(await usage(b, call({}, 'app-b')), { groupUsed: 3, appUsed: 3 });

  await a.sync();
  await b.sync();
  assert.deepEqual(await usage(b, call({}, 'app-b')), { groupUsed: 8, appUsed: 3 });
  assert.deepEqual(await usage(a, call({})), { groupUsed: 5, appUsed: 5 }, 'a has not synced since b added its calls');
  await a.sync();
  assert.deepEqual(await usage(a, call({})), { groupUsed: 8, appUsed: 5 });
  assert.deepEqual(await sharedCounters(call({})), [8, 5]);
});

test('the overshoot of a quota is what the other instances admitted since their last sync', async () => {
  const quota = { groupMonthlyQuota: 10 };
  const [a, b] = [instance(), instance()];
  assert.equal(await admitMany(a, 4, quota), 4);
  assert.equal(await admitMany(b, 4, quota, 'app-b'), 4);
  await a.sync();
  await b.sync();
  await a.sync();
  // Both see 8 of 10. a spends the last 2, and b, not synced since, spends 2 more: 12 admitted, 2 over.
  assert.equal(await admitMany(a, 5, quota), 2);
  assert.equal(await admitMany(b, 5, quota, 'app-b'), 2);
  await a.sync();
  await b.sync();
  assert.deepEqual(await sharedCounters(call({})), [12, 6]);
  // From the sync on, both refuse.
  assert.equal(await admitMany(a, 3, quota), 0);
  assert.equal(await admitMany(b, 3, quota, 'app-b'), 0);
});

test('rate windows are shared at each sync too, and roll over with the minute', async () => {
  const rate = { groupRatePerMinute: 6 };
  const [a, b] = [instance(), instance()];
  assert.equal(await admitMany(a, 3, rate), 3);
  assert.equal(await admitMany(b, 3, rate, 'app-b'), 3);
  await a.sync();
  await b.sync();
  await a.sync();
  assert.equal(await admitMany(a, 1, rate), 0, 'a sees b\'s three calls in the window');
  const refused = await a.admit(call(rate));
  assert.equal(refused.code, 'rate_limited');
  assert.ok(refused.retryAfterMs !== null && refused.retryAfterMs > 0);
  // Two minutes later both windows have slid out everywhere.
  clock.advance(120_000);
  await a.sync();
  assert.equal(await admitMany(a, 6, rate), 6);
});

test('a counter Redis lost is seeded again from durable storage, without counting this instance\'s calls twice', async () => {
  const a = instance();
  assert.equal(await admitMany(a, 5, {}), 5);
  await a.sync();
  assert.equal(await admitMany(a, 2, {}), 2);
  // Redis restarts empty; PostgreSQL holds all 7 recorded calls.
  await redis.flushall();
  durable.set('grp', 7);
  durable.set('app-a', 7);
  await a.sync();
  assert.deepEqual(await usage(a, call({})), { groupUsed: 7, appUsed: 7 });
  await a.sync();
  assert.deepEqual(await sharedCounters(call({})), [7, 7]);
});

test('ingested usage is counted here at once, and by the others from their next sync', async () => {
  const [a, b] = [instance(), instance()];
  assert.equal(await admitMany(a, 1, {}), 1);
  assert.equal(await admitMany(b, 1, {}), 1);
  await a.addUsage([{ groupId: 'grp', limits: call({}).limits, period, count: 40 }]);
  assert.deepEqual(await usage(a, call({})), { groupUsed: 41, appUsed: 41 });
  await a.sync();
  await b.sync();
  assert.deepEqual(await usage(b, call({})), { groupUsed: 42, appUsed: 42 });
});

test('close sends what is still unsynced', async () => {
  const a = instance();
  assert.equal(await admitMany(a, 3, {}), 3);
  await a.sync();
  assert.equal(await admitMany(a, 4, {}), 4);
  await a.close();
  open.splice(open.indexOf(a), 1);
  assert.deepEqual(await sharedCounters(call({})), [7, 7]);
});

test('without Redis, fail-closed refuses once its counts are stale, and fail-open decides on alone', async () => {
  const closed = instance(false);
  const opened = instance(true);
  assert.equal(await admitMany(closed, 2, {}), 2);
  assert.equal(await admitMany(opened, 2, {}), 2);
  await server.halt();
  try {
    // Within the staleness bound (ten sync intervals, at least 2 s) both still decide.
    await closed.sync();
    assert.equal(await admitMany(closed, 1, {}), 1);
    clock.advance(3_600_000 * 10 + 1);
    await Promise.all([closed.sync(), opened.sync()]);
    await assert.rejects(closed.admit(call({})), /no counter sync with Redis/);
    assert.equal(await admitMany(opened, 3, {}), 3);
  } finally {
    await server.resume();
  }
  // Redis comes back empty; "PostgreSQL" holds the 8 calls recorded meanwhile.
  durable.set('grp', 8);
  durable.set('app-a', 8);
  for (let up = false; !up;) up = await redis.ping().then(() => true, () => new Promise((r) => setTimeout(() => r(false), 100)));
  await Promise.all([closed.sync(), opened.sync()]);
  assert.equal(await admitMany(closed, 1, {}), 1, 'fail-closed decides again once it has synced');
  await closed.sync();
  assert.deepEqual(await sharedCounters(call({})), [9, 9], 'seeded from durable storage, plus the call since; nothing counted twice');
});
