import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { billingPeriod } from '../../../src/domain/periods.js';
import { LocalLimiter } from '../../../src/limits/local-limiter.js';
import { addUsageInRedis, admitInRedis, quotaCounters, seedQuota } from '../../../src/store/redis/redis-limiter.js';
import type { Limits, MeterRequest, MeterResult } from '../../../src/domain/metering.js';
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

function request(groupId: string, overrides: Partial<MeterRequest> = {}): MeterRequest {
  const now = overrides.now ?? T0;
  return {
    now, groupId, appId: `${groupId}-app`, keyId: 'k', period: billingPeriod(now, 'UTC'), mode: 'record', usageType: 'image',
    requestArgsHash: '', cost: 1,
    limits: { groupRatePerMinute: -1, appRatePerMinute: -1, groupMonthlyQuota: -1, appMonthlyQuota: -1 },
    ...overrides,
  };
}

/** admit with the seeding round trip a store does when a counter is missing. */
async function admit(r: MeterRequest, seeded = 0): Promise<MeterResult> {
  for (;;) {
    const answer = await admitInRedis(redis, r, TTL);
    if (answer.kind === 'decided') return answer.result;
    await seedQuota(redis, r, answer.scope, seeded, TTL);
  }
}

test('a missing quota counter is reported, seeded once (NX), then counted from', async () => {
  const r = request(`g${(n += 1)}`);
  assert.deepEqual(await admitInRedis(redis, r, TTL), { kind: 'missing', scope: 'group' });
  await seedQuota(redis, r, 'group', 40, TTL);
  await seedQuota(redis, r, 'group', 999, TTL);
  const result = await admit(r, 7);
  assert.equal(result.allowed, true);
  assert.equal(result.groupUsed, 41, 'the first seed stands');
  assert.equal(result.appUsed, 8);
});

test('ingested usage is not added to a counter seeded from a snapshot that already holds its transaction', async () => {
  const r = request(`g${(n += 1)}`);
  const add = (xid?: string) => addUsageInRedis(redis, [{ groupId: r.groupId, appId: r.appId, period: r.period, count: 10, xid }]);
  await add('99');
  assert.deepEqual(await quotaCounters(redis, r), [null, null], 'no counter yet: nothing to add to, the seed will hold it');
  // Seeded from a read that saw every transaction below 100 and 100..104 except 102, which was still running.
  await seedQuota(redis, r, 'group', 500, TTL, '100:105:102');
  await seedQuota(redis, r, 'app', 500, TTL, '100:105:102');
  for (const xid of ['99', '100', '104']) await add(xid);
  assert.deepEqual(await quotaCounters(redis, r), [500, 500], 'committed before the snapshot: already in the seed');
  await add('102');
  await add('105');
  await add(undefined);
  assert.deepEqual(await quotaCounters(redis, r), [530, 530], 'running at the snapshot, later, or unknown: added');
});

test('a quota of N admits exactly N under concurrency from several connections', async () => {
  const groupId = `g${(n += 1)}`;
  const limits: Limits = { groupRatePerMinute: -1, appRatePerMinute: -1, groupMonthlyQuota: 500, appMonthlyQuota: -1 };
  const clients = Array.from({ length: 4 }, () => new Redis(server.url));
  try {
    const results = await Promise.all(Array.from({ length: 800 }, async (_, i) => {
      const r = request(groupId, { limits });
      for (;;) {
        const answer = await admitInRedis(clients[i % 4]!, r, TTL);
        if (answer.kind === 'decided') return answer.result;
        await seedQuota(clients[i % 4]!, r, answer.scope, 0, TTL);
      }
    }));
    assert.equal(results.filter((r) => r.allowed).length, 500);
    assert.ok(results.filter((r) => !r.allowed).every((r) => r.code === 'quota_exceeded'));
  } finally {
    for (const c of clients) c.disconnect();
  }
});

test('property: the same calls get the same decisions as the in-process limiter', { timeout: 120_000 }, async () => {
  await fc.assert(fc.asyncProperty(
    fc.record({ rate: fc.integer({ min: -1, max: 20 }), appRate: fc.integer({ min: -1, max: 20 }), quota: fc.integer({ min: -1, max: 60 }), appQuota: fc.integer({ min: -1, max: 60 }) }),
    fc.array(fc.record({ dt: fc.integer({ min: 0, max: 20_000 }), cost: fc.integer({ min: 1, max: 4 }), mode: fc.constantFrom('record', 'rate_only', 'reserve') }), { minLength: 1, maxLength: 40 }),
    async (l, calls) => {
      const groupId = `p${(n += 1)}`;
      const limits: Limits = { groupRatePerMinute: l.rate, appRatePerMinute: l.appRate, groupMonthlyQuota: l.quota, appMonthlyQuota: l.appQuota };
      const local = new LocalLimiter();
      let now = T0;
      for (const call of calls) {
        now += call.dt;
        const r = request(groupId, { now, period: billingPeriod(now, 'UTC'), limits, cost: call.cost, mode: call.mode as MeterRequest['mode'] });
        for (const m of local.missingUsage(r.groupId, r.appId, r.period)) local.setUsage(m.scope, m.id, r.period, 0);
        const expected = local.admit(r);
        const actual = await admit(r);
        assert.deepEqual(actual, expected);
      }
    },
  ), { numRuns: 60 });
});
