import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  // The server's clock stepped back and forward (an NTP correction, a VM
  // resumed): no negative window, no negative wait, no window or month reset
  // twice, through the public check API.

  const T0 = Date.parse('2026-03-31T23:58:30Z');
  const clock = new ManualClock(T0);
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ store, clock });
  });
  after(async () => server.close());

  async function checks(key: string, n: number) {
    const answers = [];
    for (let i = 0; i < n; i += 1) {
      const res = await request(`${server.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key, usage_type: 'image' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const { rate_limit: rate, retry_after: retryAfter } = res.body;
      // A limit of -1 is no limit (and no window).
      if (rate.limit >= 0) {
        assert.ok(rate.remaining >= 0 && rate.remaining <= rate.limit, `remaining ${rate.remaining} of ${rate.limit}`);
        assert.ok(rate.reset >= 0, `reset ${rate.reset}`);
      }
      assert.ok(retryAfter === null || retryAfter >= 0, `retry_after ${retryAfter}`);
      answers.push(res.body);
    }
    return answers;
  }

  test('a clock stepped back keeps the minute window it had: no second allowance, no negative wait', async () => {
    const c = await setupCustomer(adminClient(server.url), { monthlyQuota: 1_000, ratePerMinute: 5 });
    clock.set(Date.parse('2026-03-15T12:00:30Z'));
    assert.deepEqual((await checks(c.key, 6)).map((a) => a.allowed), [true, true, true, true, true, false]);
    // Two minutes back: the window the calls were counted in stays the current one.
    clock.advance(-120_000);
    const back = await checks(c.key, 3);
    assert.deepEqual(back.map((a) => a.allowed), [false, false, false], 'stepping back gives no fresh window');
    // Forward again, past the window: capacity comes back once, as it would have.
    clock.set(Date.parse('2026-03-15T12:02:30Z'));
    assert.deepEqual((await checks(c.key, 6)).map((a) => a.allowed), [true, true, true, true, true, false]);
  });

  test('a clock stepped across a month end and back resets the month once', async () => {
    const c = await setupCustomer(adminClient(server.url), { monthlyQuota: 3, ratePerMinute: -1 });
    clock.set(T0);
    assert.deepEqual((await checks(c.key, 4)).map((a) => a.code), ['ok', 'ok', 'ok', 'quota_exceeded']);
    // Into April: a new period, a fresh quota.
    clock.set(Date.parse('2026-04-01T00:00:30Z'));
    assert.deepEqual((await checks(c.key, 2)).map((a) => [a.code, a.monthly_used]), [['ok', 1], ['ok', 2]]);
    // Back into March (the correction): March's calls are still counted there, and refused.
    clock.set(T0 + 30_000);
    const march = await checks(c.key, 1);
    assert.deepEqual([march[0].code, march[0].monthly_used], ['quota_exceeded', 3]);
    // Forward into April again: April's count goes on from 2, it is not reset a second time.
    clock.set(Date.parse('2026-04-01T00:01:00Z'));
    assert.deepEqual((await checks(c.key, 2)).map((a) => [a.code, a.monthly_used]), [['ok', 3], ['quota_exceeded', 3]]);
  });
});
