import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { adminClient, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { until } from '../helpers/until.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  // Two servers in this process: one without webhooks, one whose receiver
  // never answers. Both answer the same checks; the machine's noise hits both
  // alike, so what is compared is the ratio of their times, round by round.
  let quiet: TestServer;
  let busy: TestServer;
  let hanging: WebhookReceiver;

  before(async () => {
    [quiet, busy] = await Promise.all([startTestServer({ store }), startTestServer({ store, config: { webhookTimeoutMs: 120_000 } })]);
    hanging = await startReceiver(() => 'hang');
  });
  after(async () => {
    await Promise.all([quiet.close(), busy.close()]);
    await hanging.close();
  });

  /** 200 checks, 8 at a time; milliseconds taken. */
  async function timeChecks(admin: AdminClient, key: string): Promise<number> {
    const started = performance.now();
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 25; i += 1) {
        const answer = await admin.post('/v1/check', { key, usage_type: 'image' });
        assert.equal(answer.body.allowed, true);
      }
    }));
    return performance.now() - started;
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  test('a receiver that never answers does not slow checks down', async () => {
    const quietAdmin = adminClient(quiet.url);
    const busyAdmin = adminClient(busy.url);
    // Twenty groups past 80% on the busy server: twenty alerts, every delivery slot held by the receiver, the rest waiting.
    const groups = await Promise.all(Array.from({ length: 20 }, () => setupCustomer(busyAdmin, { monthlyQuota: 10 })));
    const endpoint = await busyAdmin.post('/admin/webhooks', { url: hanging.url, group_ids: groups.map((g) => g.groupId) });
    assert.equal(endpoint.status, 201);
    for (const g of groups) for (let i = 0; i < 8; i += 1) await busyAdmin.post('/v1/check', { key: g.key, usage_type: 'image' });
    await until('the receiver holding 16 deliveries', () => hanging.hanging() >= 16);

    const quietKey = (await setupCustomer(quietAdmin)).key;
    const busyKey = (await setupCustomer(busyAdmin)).key;
    await timeChecks(quietAdmin, quietKey);
    await timeChecks(busyAdmin, busyKey);
    const ratios: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      const q = await timeChecks(quietAdmin, quietKey);
      const b = await timeChecks(busyAdmin, busyKey);
      ratios.push(b / q);
    }
    const ratio = median(ratios);
    assert.ok(ratio < 2, `checks with deliveries hanging took ${ratio.toFixed(2)}x as long as without (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})`);

    // The deliveries were waiting all along: none answered, none attempted to the end.
    assert.ok(hanging.hanging() >= 16);
    const waiting = await Promise.all(groups.map(async (g) => (await busyAdmin.get(`/admin/groups/${g.groupId}/webhook-deliveries`)).body.items));
    assert.equal(waiting.flat().length, 20);
    assert.ok(waiting.flat().every((d) => d.status === 'pending' && d.attempts.length === 0));
  });
});
