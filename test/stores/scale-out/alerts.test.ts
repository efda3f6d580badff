import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminClient, setupCustomer } from '../../helpers/server.js';
import { scaleOutCluster } from '../../helpers/scale-out.js';
import { startReceiver, verifyTollgateSignature, type WebhookReceiver } from '../../helpers/webhook-receiver.js';
import { until } from '../../helpers/until.js';

// Alerts across instances, through the public API: three Tollgate processes
// on one PostgreSQL and one Redis, checks spread over all of them crossing
// 80% and 100% at once; each alert is sent exactly once, signed with the
// secret one instance showed, and every instance shows the same log.

const cluster = scaleOutCluster('alerts');
let hooks: WebhookReceiver | undefined;
after(async () => hooks?.close());

test('three instances crossing the same thresholds send each alert once', { timeout: 120_000 }, async () => {
  const servers = await Promise.all([0, 1, 2].map(() => cluster.spawn({ env: { TOLLGATE_WEBHOOK_RETRY_BASE_MS: '50' } })));
  hooks = await startReceiver((n) => (n === 0 ? 500 : 204));
  const admins = servers.map((s) => adminClient(s.url));
  const customer = await setupCustomer(admins[0]!, { monthlyQuota: 300 });
  const { secret } = (await admins[1]!.post('/admin/webhooks', { url: hooks.url, group_ids: [customer.groupId] })).body;

  const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => admins[i % 3]!.post('/v1/check', { key: customer.key, usage_type: 'image' })));
  assert.equal(answers.filter((a) => a.body.allowed).length, 300);

  // One of the two fails its first attempt: its retry comes from whichever instance claims it.
  await until('both alerts delivered', async () => {
    const log = (await admins[2]!.get(`/admin/groups/${customer.groupId}/webhook-deliveries`)).body.items;
    return log.length === 2 && log.every((d: any) => d.status === 'delivered');
  }, 60_000);
  await sleep(1_500); // more than a poll of every instance
  const delivered = hooks.received.filter((h) => h.event.group_id === customer.groupId);
  assert.equal(delivered.length, 3, 'two alerts, one of them twice (its failed attempt and its retry)');
  assert.deepEqual([...new Set(delivered.map((h) => h.event.data.threshold_percent))].sort((a, b) => a - b), [80, 100]);
  assert.equal(new Set(delivered.map((h) => h.headers['tollgate-delivery'])).size, 2);
  assert.ok(delivered.every((h) => verifyTollgateSignature(secret, h.headers['tollgate-signature'] as string, h.body)), 'every instance signs with the same secret');
  const logs = await Promise.all(admins.map(async (a) => (await a.get(`/admin/groups/${customer.groupId}/webhook-deliveries`)).body.items));
  assert.deepEqual(logs[0], logs[1]);
  assert.deepEqual(logs[1], logs[2]);
  assert.deepEqual(logs[0].map((d: any) => d.attempts.length).sort((a: number, b: number) => a - b), [1, 2]);
});
