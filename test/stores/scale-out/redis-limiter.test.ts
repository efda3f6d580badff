import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { billingPeriod } from '../../../src/domain/periods.js';
import { LocalLimiter } from '../../../src/limits/local-limiter.js';
import { addUsageInRedis, admitInRedis, counterKey, readCounters, seedCounter, seedWindowInRedis } from '../../../src/store/redis/redis-limiter.js';
import { windowStartAt } from '../../../src/domain/sliding-window.js';
import { windowMs } from '../../../src/domain/limit-decision.js';
import type { AppliedLimit, MeterRequest, MeterResult } from '../../../src/domain/metering.js';
import type { LimitScope, LimitWindow } from '../../../src/domain/limits.js';
import { appUsed, groupUsed, shorthandLimits, UNLIMITED, type Shorthand } from '../../helpers/limits.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';

// The Redis limiter against a real Redis, and against the in-process limiter:
// the same calls must get the same decisions from both.

const T0 = Date.parse('2026-03-15T12:00:10Z');
const TTL = 40 * 86_400_000;
let server: TestRedis;
let redis: Redis;
let n = 0;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

function request(groupId: string, overrides: Partial<Omit<MeterRequest, 'limits'>> & { limits?: Shorthand | AppliedLimit[] } = {}): MeterRequest {
  const now = overrides.now ?? T0;
  const { limits = UNLIMITED, ...rest } = overrides;
  const appId = `${groupId}-app`;
  return {
    now, groupId, appId, keyId: 'k', period: billingPeriod(now, 'UTC'), mode: 'record', usageType: 'image',
    requestArgsHash: '', cost: 1, ...rest,
    limits: Array.isArray(limits) ? limits : shorthandLimits(limits, { groupId, appId }),
  };
}

const key = (r: MeterRequest, name: string) => counterKey(r.groupId, r.limits.find((l) => l.name === name)!, r.period.start);
const counters = (r: MeterRequest) => readCounters(redis, [key(r, 'month'), key(r, 'app-month')]);

/** admit with the seeding round trip a store does when a counter is missing. */
async function admit(r: MeterRequest, seeded = 0, client = redis): Promise<MeterResult> {
  for (;;) {
    const answer = await admitInRedis(client, r, TTL);
    if (answer.kind === 'decided') return answer.result;
    assert.equal(answer.kind, 'missing');
    if (answer.kind !== 'missing') continue;
    const k = counterKey(r.groupId, answer.limit, r.period.start);
    // An hour or day window is seeded empty here, as the in-process limiter's windows start.
    if (answer.limit.window === 'billing_period') await seedCounter(client, k, seeded, TTL);
    else await seedWindowInRedis(client, k, { windowStart: windowStartAt(r.now, windowMs(answer.limit)!), previous: 0, current: 0 }, TTL);
  }
}

test('a missing period counter is reported, seeded once (NX), then counted from', async () => {
  const r = request(`g${(n += 1)}`);
  assert.deepEqual(await admitInRedis(redis, r, TTL), { kind: 'missing', limit: r.limits[0] });
  await seedCounter(redis, key(r, 'month'), 40, TTL);
  await seedCounter(redis, key(r, 'month'), 999, TTL);
  const result = await admit(r, 7);
  assert.equal(result.allowed, true);
  assert.equal(groupUsed(result), 41, 'the first seed stands');
  assert.equal(appUsed(result), 8);
});

test('ingested usage is not added to a counter seeded from a snapshot that already holds its transaction', async () => {
  const r = request(`g${(n += 1)}`);
  const add = (xid?: string) => addUsageInRedis(redis, [{ groupId: r.groupId, limits: r.limits, period: r.period, count: 10, xid }]);
  await add('99');
  assert.deepEqual(await counters(r), [null, null], 'no counter yet: nothing to add to, the seed will hold it');
  // Seeded from a read that saw every transaction below 100 and 100..104 except 102, which was still running.
  await seedCounter(redis, key(r, 'month'), 500, TTL, '100:105:102');
  await seedCounter(redis, key(r, 'app-month'), 500, TTL, '100:105:102');
  for (const xid of ['99', '100', '104']) await add(xid);
  assert.deepEqual(await counters(r), [500, 500], 'committed before the snapshot: already in the seed');
  await add('102');
  await add('105');
  await add(undefined);
  assert.deepEqual(await counters(r), [530, 530], 'running at the snapshot, later, or unknown: added');
});

test('a quota of N admits exactly N under concurrency from several connections', async () => {
  const groupId = `g${(n += 1)}`;
  const clients = Array.from({ length: 4 }, () => new Redis(server.url));
  try {
    const results = await Promise.all(Array.from({ length: 800 }, (_, i) => admit(request(groupId, { limits: { ...UNLIMITED, groupMonthlyQuota: 500 } }), 0, clients[i % 4])));
    assert.equal(results.filter((r) => r.allowed).length, 500);
    assert.ok(results.filter((r) => !r.allowed).every((r) => r.code === 'quota_exceeded'));
  } finally {
    for (const c of clients) c.disconnect();
  }
});

test('a limit of 20 per second admits at most 20 in any clock second, across connections', async () => {
  const groupId = `g${(n += 1)}`;
  const burst: AppliedLimit = { name: 'burst', usageTypes: null, window: 'second', units: 20, scope: 'key', scopeId: 'k' };
  const clients = Array.from({ length: 4 }, () => new Redis(server.url));
  try {
    // 100 calls in each of 10 consecutive half-seconds.
    const admitted: number[] = [];
    for (let step = 0; step < 10; step += 1) {
      const now = T0 + step * 500;
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => admit(request(groupId, { now, limits: [burst] }), 0, clients[i % 4])));
      admitted.push(results.filter((r) => r.allowed).length);
    }
    // T0 is on a whole second: each clock second is two consecutive half-seconds, never more than 20 between them.
    for (let i = 1; i < admitted.length; i += 2) assert.ok(admitted[i - 1]! + admitted[i]! <= 20, `${admitted.join(',')}`);
    assert.equal(admitted[0], 20, 'the whole limit at once');
    assert.ok(admitted.reduce((a, b) => a + b, 0) > 20, 'the window slides: more than one second\'s worth over five seconds');
  } finally {
    for (const c of clients) c.disconnect();
  }
});

const namedLimit = fc.record({
  window: fc.constantFrom('second', 'minute', 'hour', 'day', 'billing_period') as fc.Arbitrary<LimitWindow>,
  units: fc.integer({ min: 0, max: 30 }),
  scope: fc.constantFrom('group', 'app', 'key') as fc.Arbitrary<LimitScope>,
  kinds: fc.option(fc.subarray(['image', 'pdf'], { minLength: 1 }), { nil: null }),
});

test('property: the same calls get the same decisions as the in-process limiter, over any set of limits', { timeout: 180_000 }, async () => {
  await fc.assert(fc.asyncProperty(
    fc.record({ rate: fc.integer({ min: -1, max: 20 }), appRate: fc.integer({ min: -1, max: 20 }), quota: fc.integer({ min: -1, max: 60 }), appQuota: fc.integer({ min: -1, max: 60 }) }),
    fc.array(namedLimit, { maxLength: 4 }),
    fc.array(fc.record({
      dt: fc.integer({ min: 0, max: 20_000 }), cost: fc.integer({ min: 1, max: 4 }),
      mode: fc.constantFrom('record', 'rate_only', 'reserve'), kind: fc.constantFrom('image', 'pdf'),
    }), { minLength: 1, maxLength: 40 }),
    async (l, named, calls) => {
      const groupId = `p${(n += 1)}`;
      const ids = { group: groupId, app: `${groupId}-app`, key: 'k' };
      const shorthand = shorthandLimits({ groupRatePerMinute: l.rate, appRatePerMinute: l.appRate, groupMonthlyQuota: l.quota, appMonthlyQuota: l.appQuota }, { groupId, appId: ids.app });
      const all: AppliedLimit[] = [...shorthand, ...named.map((x, i) => ({ name: `n${i}`, usageTypes: x.kinds, window: x.window, units: x.units, scope: x.scope, scopeId: ids[x.scope] }))];
      const local = new LocalLimiter();
      let now = T0;
      for (const call of calls) {
        now += call.dt;
        const mode = call.mode as MeterRequest['mode'];
        // As src/metering/limits.ts gives them: every limit to a rate_only touch, those of the call's kind otherwise.
        const limits = mode === 'rate_only' ? all : all.filter((x) => x.usageTypes === null || x.usageTypes.includes(call.kind));
        const r = request(groupId, { now, period: billingPeriod(now, 'UTC'), limits, cost: call.cost, mode, usageType: call.kind });
        for (const m of local.missingUsage(r.limits, r.period)) local.setUsage(m, r.period, 0);
        const expected = local.admit(r);
        const actual = await admit(r);
        assert.deepEqual(actual, expected);
      }
    },
  ), { numRuns: 60 });
});
