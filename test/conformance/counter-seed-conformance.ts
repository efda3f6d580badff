import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { unitsFor, windowUnits } from '../../src/domain/counter-units.js';
import type { CounterRef } from '../../src/domain/limits.js';
import type { MeterRequest } from '../../src/domain/metering.js';
import { billingPeriod } from '../../src/domain/periods.js';
import type { Store } from '../../src/store/store.js';

const T0 = Date.parse('2026-03-15T12:00:00Z');
const HOUR = 3_600_000;

interface Customer {
  groupId: string;
  appId: string;
  keyId: string;
}

/**
 * Seeding every kind of counter from a store's rollups (run by
 * storeConformance against every store): calls made with keys and ingested
 * events without one, read back exactly per group, app and key, all usage
 * types or some.
 */
export function counterSeedTests(get: () => Store, customer: () => Promise<Customer>): void {
  describe('counters seeded from the rollups', () => {
    let store: Store;
    let c: Customer & { app2: string; key2: string; key3: string };
    const march = billingPeriod(T0, 'UTC');

    before(async () => {
      store = get();
      const first = await customer();
      const app2 = `${first.appId}-2`;
      await store.createApp({ id: app2, groupId: first.groupId, name: 'B', monthlyQuota: null, rateLimitPerMinute: null }, T0);
      const key = async (id: string, appId: string) => {
        await store.createKey({ id, appId, name: id, hint: 'tg_ab…', secretHash: `${id}-hash`, createdAt: T0, expiresAt: null });
        return id;
      };
      c = { ...first, app2, key2: await key(`${first.keyId}-2`, first.appId), key3: await key(`${first.keyId}-3`, app2) };
      const call = (appId: string, keyId: string, usageType: string, cost: number, now = T0): MeterRequest => ({
        now, groupId: c.groupId, appId, keyId, limits: [], period: billingPeriod(now, 'UTC'), mode: 'record',
        usageType, requestArgsHash: `${usageType}-${cost}`, cost,
      });
      const calls = [
        call(c.appId, c.keyId, 'image', 2), call(c.appId, c.keyId, 'pdf', 5), call(c.appId, c.key2, 'image', 3),
        call(c.app2, c.key3, 'pdf', 7), call(c.appId, c.keyId, 'image', 1, T0 + HOUR + 60_000),
        // Last month: in no counter of March.
        call(c.appId, c.keyId, 'image', 100, Date.parse('2026-02-28T23:59:00Z')),
      ];
      for (const request of calls) assert.equal((await store.meter(request)).allowed, true);
      const event = (appId: string, usageType: string, count: number, ts = T0) => ({
        dedupKey: `${c.groupId}-${appId}-${usageType}-${count}`, ts, groupId: c.groupId, appId, usageType, requestArgsHash: '', count,
      });
      assert.deepEqual(await store.ingest([event(c.appId, 'image', 11), event(c.app2, 'audio', 13, T0 + HOUR + 120_000)]), ['accepted', 'accepted']);
    });

    const ref = (scope: CounterRef['scope'], scopeId: string, usageTypes: string[] | null): CounterRef => ({ groupId: c.groupId, scope, scopeId, usageTypes });

    test('group, app and key counters, of every usage type or some, read back exactly; ingested events count toward no key', async () => {
      const cases: Array<[CounterRef, number]> = [
        [ref('group', c.groupId, null), 2 + 5 + 3 + 7 + 1 + 11 + 13],
        [ref('group', c.groupId, ['image']), 2 + 3 + 1 + 11],
        [ref('group', c.groupId, ['pdf', 'audio']), 5 + 7 + 13],
        [ref('app', c.appId, null), 2 + 5 + 3 + 1 + 11],
        [ref('app', c.appId, ['image']), 2 + 3 + 1 + 11],
        [ref('app', c.app2, ['audio']), 13],
        [ref('app', c.app2, ['pdf', 'image']), 7],
        [ref('key', c.keyId, null), 2 + 5 + 1],
        [ref('key', c.keyId, ['image']), 2 + 1],
        [ref('key', c.key2, null), 3],
        [ref('key', c.key3, ['pdf', 'audio']), 7],
      ];
      for (const [counter, units] of cases) assert.equal(await unitsFor(store, counter, march), units, `${counter.scope} ${counter.usageTypes}`);
    });

    test('the hour windows: exact on their edges', async () => {
      const hourStart = T0 + HOUR;
      assert.equal(await windowUnits(store, ref('key', c.keyId, null), T0, hourStart), 2 + 5);
      assert.equal(await windowUnits(store, ref('key', c.keyId, null), hourStart, hourStart + HOUR), 1);
      assert.equal(await windowUnits(store, ref('app', c.app2, ['audio']), hourStart, hourStart + HOUR), 13);
      assert.equal(await windowUnits(store, ref('group', c.groupId, null), T0, hourStart), 2 + 5 + 3 + 7 + 11);
    });
  });
}
