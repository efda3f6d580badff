import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { adminClient, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

// A billing-period named limit on plans in +05:30, +05:45 and a DST zone,
// through the public API on a fake clock: usage just before local midnight
// on the 1st counts in the month that ends, usage at it in the month that
// begins, and the limit resets exactly there (not at UTC midnight).

const at = (iso: string) => Date.parse(iso);

const ZONES = [
  // April begins at local midnight: 18:30 / 18:15 UTC on March 31, 04:00 UTC on April 1 in New York (EDT, after the spring-forward change).
  { zone: 'Asia/Kolkata', edge: at('2026-03-31T18:30:00Z'), nextEdge: at('2026-04-30T18:30:00Z') },
  { zone: 'Asia/Kathmandu', edge: at('2026-03-31T18:15:00Z'), nextEdge: at('2026-04-30T18:15:00Z') },
  { zone: 'America/New_York', edge: at('2026-04-01T04:00:00Z'), nextEdge: at('2026-05-01T04:00:00Z') },
];
const UTC_EDGE = at('2026-04-01T00:00:00Z');

eachStore((store) => {
  let server: TestServer;
  let admin: AdminClient;
  const clock = new ManualClock(at('2026-03-15T12:00:00Z'));
  let n = 0;

  before(async () => {
    server = await startTestServer({ store, clock });
    admin = adminClient(server.url);
  });
  after(async () => server.close());

  async function customer(zone: string) {
    n += 1;
    const ids = { plan: `bz-plan-${n}`, group: `bz-group-${n}`, app: `bz-app-${n}` };
    const created = await admin.post('/admin/plans', {
      id: ids.plan, time_zone: zone, monthly_quota: 100, rate_limit_per_minute: -1,
      limits: [{ name: 'images-month', usage_types: ['image'], window: 'billing_period', units: 3 }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await admin.post('/admin/groups', { id: ids.group, name: ids.group, plan_id: ids.plan })).status, 201);
    assert.equal((await admin.post(`/admin/groups/${ids.group}/apps`, { id: ids.app })).status, 201);
    return (await admin.post(`/admin/apps/${ids.app}/keys`, { name: 'k' })).body.key as string;
  }

  async function checkAt(now: number, key: string, cost = 1) {
    clock.set(now);
    const res = await admin.post('/v1/check', { key, usage_type: 'image', cost });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const month = (res.body.limits as Array<{ name: string; used: number; remaining: number; reset: number }>).find((l) => l.name === 'images-month')!;
    return { ...res.body, month };
  }

  for (const { zone, edge, nextEdge } of ZONES) {
    describe(zone, () => {
      test('usage just before local midnight on the 1st is the old month\'s; the limit resets exactly at it', async () => {
        const key = await customer(zone);
        const spent = await checkAt(edge - 3_600_000, key, 3);
        assert.equal(spent.allowed, true);
        assert.equal(spent.month.used, 3);
        if (UTC_EDGE < edge) {
          // New York: UTC is in April already, the plan's month is not.
          const utcApril = await checkAt(UTC_EDGE, key);
          assert.equal(utcApril.code, 'quota_exceeded', 'UTC midnight does not reset a New York month');
        }
        const lastMs = await checkAt(edge - 1, key);
        assert.equal(lastMs.code, 'quota_exceeded');
        assert.equal(lastMs.denied_by, 'images-month');
        assert.equal(lastMs.month.used, 3);
        assert.equal(lastMs.month.reset, 1, 'reset: a millisecond away, reported as a second');
        assert.equal(lastMs.retry_after, 1);
        assert.equal(lastMs.monthly_used, 3, 'the shorthand month agrees');

        const first = await checkAt(edge, key, 3);
        assert.equal(first.allowed, true, 'the whole limit again at local midnight on the 1st');
        assert.equal(first.month.used, 3, 'counted in the new month only');
        assert.equal(first.month.reset, (nextEdge - edge) / 1000, 'resets at the next local midnight on the 1st');
        assert.equal(first.monthly_used, 3);
        const over = await checkAt(edge + 1, key);
        assert.equal(over.code, 'quota_exceeded', 'one reset, not two');
        if (UTC_EDGE > edge) {
          // Kolkata and Kathmandu: UTC midnight comes after the local edge, and resets nothing.
          assert.equal((await checkAt(UTC_EDGE, key)).code, 'quota_exceeded', 'UTC midnight does not reset the month again');
        }
      });
    });
  }
});
