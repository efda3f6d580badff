import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../src/clock.js';
import { ManualScheduler } from '../../src/scheduler.js';
import { ADMIN_TOKEN, adminClient, request, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { startReceiver, verifyStandardWebhook, verifyTollgateSignature, verifyWithStripe, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { until } from '../helpers/until.js';
import { eachStore } from '../helpers/stores.js';

eachStore((store) => {
  const T0 = Date.parse('2026-03-15T12:00:00Z');
  const receivers: WebhookReceiver[] = [];
  after(async () => {
    await Promise.all(receivers.map((r) => r.close()));
  });

  async function receiver(...args: Parameters<typeof startReceiver>): Promise<WebhookReceiver> {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  }

  async function webhook(admin: AdminClient, url: string, groupIds: string[]): Promise<{ id: string; secret: string }> {
    const created = await admin.post('/admin/webhooks', { url, group_ids: groupIds });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  }

  const check = (admin: AdminClient, key: string, cost = 1) => admin.post('/v1/check', { key, usage_type: 'image', cost });
  const deliveries = async (admin: AdminClient, groupId: string) => (await admin.get(`/admin/groups/${groupId}/webhook-deliveries?limit=1000`)).body.items as any[];

  describe('quota thresholds', () => {
    const clock = new ManualClock(T0);
    let server: TestServer;
    let admin: AdminClient;
    let hooks: WebhookReceiver;
    let customer: Awaited<ReturnType<typeof setupCustomer>>;
    let secret: string;

    before(async () => {
      server = await startTestServer({ store, clock });
      admin = adminClient(server.url);
      hooks = await receiver();
      customer = await setupCustomer(admin, { monthlyQuota: 100 });
      secret = (await webhook(admin, hooks.url, [customer.groupId])).secret;
    });
    after(async () => server.close());

    test('80% and 100% fire exactly once each while 150 checks cross both at once, signed', async () => {
      const answers = await Promise.all(Array.from({ length: 150 }, () => check(admin, customer.key)));
      assert.equal(answers.filter((a) => a.body.allowed).length, 100);
      await until('two webhooks', () => hooks.received.length >= 2);
      await sleep(300);
      assert.equal(hooks.received.length, 2, 'nothing more arrives');
      const events = hooks.received.map((h) => h.event).sort((a, b) => a.data.threshold_percent - b.data.threshold_percent);
      assert.deepEqual(events.map((e) => [e.type, e.group_id, e.data.scope, e.data.threshold_percent, e.data.monthly_quota]), [
        ['quota_threshold', customer.groupId, 'group', 80, 100],
        ['quota_threshold', customer.groupId, 'group', 100, 100],
      ]);
      assert.ok(events[0].data.monthly_used >= 80 && events[0].data.monthly_used <= 100);
      assert.equal(events[1].data.monthly_used, 100);
      assert.deepEqual(events[0].data.period, { from_date: '2026-03-01T00:00:00.000Z', to_date: '2026-04-01T00:00:00.000Z' });
      for (const hook of hooks.received) {
        assert.match(hook.headers['tollgate-signature'] as string, /^t=\d+,v1=[0-9a-f]{64}$/);
        assert.equal(hook.headers['content-type'], 'application/json');
        assert.ok(verifyTollgateSignature(secret, hook.headers['tollgate-signature'] as string, hook.body, 300, clock.now()), 'the README snippet verifies it');
        assert.equal(verifyTollgateSignature(secret, hook.headers['tollgate-signature'] as string, hook.body.replace('100', '101'), 300, clock.now()), false, 'a changed body does not verify');
        assert.equal(verifyTollgateSignature(`${secret}x`, hook.headers['tollgate-signature'] as string, hook.body, 300, clock.now()), false, 'another secret does not verify');
        assert.equal(verifyTollgateSignature(secret, hook.headers['tollgate-signature'] as string, hook.body, 300, clock.now() + 301_000), false, 'too old');
      }
      await until('both delivered', async () => (await deliveries(admin, customer.groupId)).every((d) => d.status === 'delivered'));
      const log = await deliveries(admin, customer.groupId);
      assert.equal(log.length, 2);
      assert.ok(log.every((d) => d.attempts.length === 1 && d.attempts[0].status_code === 204 && d.attempts[0].error === null && d.url === hooks.url));
      assert.deepEqual(new Set(log.map((d) => d.id)), new Set(hooks.received.map((h) => h.headers['tollgate-delivery'])));
    });

    // scale-out: reads the SQLite file and the server secret the embedded store keeps in the data directory.
    if (store.name === 'embedded') test('not again after a restart; again in the next billing period', async () => {
      await server.close({ keepData: true });
      server = await startTestServer({ store, clock, dataDir: server.dataDir });
      admin = adminClient(server.url);
      const refused = await check(admin, customer.key);
      assert.equal(refused.body.code, 'quota_exceeded');
      assert.equal(refused.body.monthly_used, 100);
      await sleep(300);
      assert.equal(hooks.received.length, 2, 'a restarted server does not raise them again');
      assert.equal((await deliveries(admin, customer.groupId)).length, 2);

      clock.set(Date.parse('2026-04-02T00:00:00Z'));
      for (let i = 0; i < 85; i += 1) assert.equal((await check(admin, customer.key)).body.allowed, true);
      await until('the next period\'s 80%', () => hooks.received.length === 3);
      const april = hooks.received[2]!.event;
      assert.equal(april.data.threshold_percent, 80);
      assert.equal(april.data.period.from_date, '2026-04-01T00:00:00.000Z');
      assert.equal(april.data.monthly_used, 80);
      assert.ok(verifyTollgateSignature(secret, hooks.received[2]!.headers['tollgate-signature'] as string, hooks.received[2]!.body, 300, clock.now()),
        'the restarted server signs with the same secret (derived again from the server secret in the data directory)');
      const database = readFileSync(join(server.dataDir, 'tollgate.db'));
      const serverSecret = readFileSync(join(server.dataDir, 'webhook-secret'), 'utf8').trim();
      assert.equal(database.includes(secret), false, 'the database holds no signing secret');
      assert.equal(database.includes(serverSecret), false, 'nor the server secret');
    });

    test("an app's own quota has its own thresholds", async () => {
      const c = await setupCustomer(admin, { monthlyQuota: 1000, appMonthlyQuota: 10 });
      await webhook(admin, hooks.url, [c.groupId]);
      for (let i = 0; i < 8; i += 1) await check(admin, c.key);
      await until('the app\'s 80%', () => hooks.received.some((h) => h.event.group_id === c.groupId));
      const [event] = hooks.received.filter((h) => h.event.group_id === c.groupId).map((h) => h.event);
      assert.deepEqual([event.data.scope, event.data.app_id, event.data.threshold_percent, event.data.monthly_used, event.data.monthly_quota], ['app', c.appId, 80, 8, 10]);
    });

    test('ingested usage crosses thresholds too', async () => {
      const c = await setupCustomer(admin, { monthlyQuota: 10 });
      await webhook(admin, hooks.url, [c.groupId]);
      const ingested = await admin.post('/v1/events', [{ id: 'evt-1', app_id: c.appId, usage_type: 'pdf', count: 9 }]);
      assert.equal(ingested.body.accepted, 1);
      await until('the 80% of ingested usage', () => hooks.received.some((h) => h.event.group_id === c.groupId));
      const [event] = hooks.received.filter((h) => h.event.group_id === c.groupId).map((h) => h.event);
      assert.deepEqual([event.data.threshold_percent, event.data.monthly_used], [80, 9]);
    });

    test('a group sets its own thresholds and kinds; other groups keep the defaults', async () => {
      const c = await setupCustomer(admin, { monthlyQuota: 10, ratePerMinute: 5 });
      await webhook(admin, hooks.url, [c.groupId]);
      const defaults = await admin.get(`/admin/groups/${c.groupId}/alert-settings`);
      assert.deepEqual(defaults.body, {
        group_id: c.groupId, thresholds: [80, 100],
        kinds: ['quota_threshold', 'rate_limit_hit', 'key_expiring', 'credits_low', 'credits_exhausted'], credits_low: null, defaults: true, updated_at: null,
      });
      const put = await admin.put(`/admin/groups/${c.groupId}/alert-settings`, { thresholds: [50, 30, 50], kinds: ['quota_threshold'] });
      assert.equal(put.status, 200);
      assert.deepEqual([put.body.thresholds, put.body.kinds, put.body.defaults], [[30, 50], ['quota_threshold'], false]);
      const codes = [];
      for (let i = 0; i < 6; i += 1) codes.push((await check(admin, c.key)).body.code);
      assert.deepEqual(codes, ['ok', 'ok', 'ok', 'ok', 'ok', 'rate_limited']);
      await until('30% and 50%', () => hooks.received.filter((h) => h.event.group_id === c.groupId).length === 2);
      await sleep(200);
      const mine = hooks.received.filter((h) => h.event.group_id === c.groupId).map((h) => h.event);
      assert.deepEqual(mine.map((e) => e.data.threshold_percent).sort(), [30, 50], 'no 80%, and the rate limit hit stays silent');

      for (const [body, field] of [[{ thresholds: [0], kinds: [] }, 'thresholds'], [{ thresholds: [80], kinds: ['nope'] }, 'kinds'], [{ thresholds: [80] }, 'kinds'],
        [{ thresholds: [80], kinds: [], credits_low: { below_share: 1.5 } }, 'credits_low'], [{ thresholds: [80], kinds: [], credits_low: { below: -1 } }, 'credits_low'],
        [{ thresholds: [80], kinds: [], credits_low: { below: 5, below_share: 0.5 } }, 'credits_low'], [{ thresholds: [80], kinds: [], credits_low: 5 }, 'credits_low']] as const) {
        const bad = await admin.put(`/admin/groups/${c.groupId}/alert-settings`, body);
        assert.equal(bad.status, 400, JSON.stringify(body));
        assert.equal(bad.body.error, 'invalid_request');
        assert.match(bad.body.message, new RegExp(field));
      }
      const missing = await admin.put('/admin/groups/no-such-group/alert-settings', { thresholds: [80], kinds: [] });
      assert.deepEqual([missing.status, missing.body.error], [404, 'not_found']);
      assert.equal((await admin.get('/admin/groups/no-such-group/alert-settings')).status, 404);
    });

    test('rate limit hit: once per group and period', async () => {
      const c = await setupCustomer(admin, { ratePerMinute: 1 });
      await webhook(admin, hooks.url, [c.groupId]);
      const answers = [];
      for (let i = 0; i < 5; i += 1) answers.push((await check(admin, c.key)).body.code);
      assert.deepEqual(answers, ['ok', 'rate_limited', 'rate_limited', 'rate_limited', 'rate_limited']);
      await until('the rate limit alert', () => hooks.received.some((h) => h.event.group_id === c.groupId));
      await sleep(200);
      const mine = hooks.received.filter((h) => h.event.group_id === c.groupId).map((h) => h.event);
      assert.equal(mine.length, 1);
      assert.deepEqual([mine[0].type, mine[0].data.scope, mine[0].data.rate_limit_per_minute, mine[0].data.key_id], ['rate_limit_hit', 'group', 1, c.keyId]);
    });
  });

  describe('webhook endpoints', () => {
    const clock = new ManualClock(T0);
    let server: TestServer;
    let admin: AdminClient;

    before(async () => {
      server = await startTestServer({ store, clock, config: { alertScanMs: 100, webhookRetryBaseMs: 10 } });
      admin = adminClient(server.url);
    });
    after(async () => server.close());

    test('a malformed or non-http URL, or an unknown group, is refused', async () => {
      const c = await setupCustomer(admin);
      for (const url of ['not a url', 'ftp://example.com/hook', '/relative/path']) {
        const res = await admin.post('/admin/webhooks', { url });
        assert.equal(res.status, 400, url);
        assert.equal(res.body.error, 'invalid_request');
        assert.match(res.body.message, /url/);
      }
      const unknown = await admin.post('/admin/webhooks', { url: 'https://example.com/hook', group_ids: [c.groupId, 'nobody'] });
      assert.deepEqual([unknown.status, unknown.body.error], [404, 'not_found']);
      assert.equal((await admin.post('/admin/webhooks', { url: 'https://example.com/hook', extra: 1 })).status, 400);
    });

    test('the secret is shown once; an endpoint limited to groups hears only theirs; a deleted one hears nothing', async () => {
      const hooks = await receiver();
      const a = await setupCustomer(admin, { monthlyQuota: 10 });
      const b = await setupCustomer(admin, { monthlyQuota: 10 });
      const created = await webhook(admin, hooks.url, [a.groupId]);
      assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      const shown = await admin.get(`/admin/webhooks/${created.id}`);
      assert.equal(shown.body.secret, undefined);
      assert.deepEqual([shown.body.url, shown.body.group_ids, shown.body.deleted_at], [hooks.url, [a.groupId], null]);
      assert.ok((await admin.get('/admin/webhooks')).body.items.every((e: any) => e.secret === undefined));

      for (let i = 0; i < 8; i += 1) await check(admin, b.key);
      for (let i = 0; i < 8; i += 1) await check(admin, a.key);
      await until('a\'s alert', () => hooks.received.length === 1);
      await sleep(200);
      assert.deepEqual(hooks.received.map((h) => h.event.group_id), [a.groupId]);

      const deleted = await admin.delete(`/admin/webhooks/${created.id}`);
      assert.equal(deleted.status, 200);
      assert.notEqual(deleted.body.deleted_at, null);
      for (let i = 0; i < 2; i += 1) await check(admin, a.key);
      await sleep(300);
      assert.equal(hooks.received.length, 1, 'the 100% alert is not sent to a deleted endpoint');
      const [delivered] = await deliveries(admin, a.groupId);
      const replay = await admin.post(`/admin/webhook-deliveries/${delivered.id}/replay`);
      assert.deepEqual([replay.status, replay.body.error], [409, 'conflict']);
      assert.equal((await admin.delete('/admin/webhooks/whe_nope')).status, 404);
    });

    test('a receiver that keeps failing is retried until 24 hours have passed, then the delivery fails', async () => {
      const hooks = await receiver(() => 503);
      const c = await setupCustomer(admin, { monthlyQuota: 10 });
      await webhook(admin, hooks.url, [c.groupId]);
      for (let i = 0; i < 8; i += 1) await check(admin, c.key);
      await until('a first attempt', () => hooks.received.length === 1);
      await sleep(200);
      assert.equal(hooks.received.length, 1, 'the next attempt waits for its time (this clock does not move by itself)');
      clock.advance(25 * 3_600_000);
      await until('the delivery given up', async () => (await deliveries(admin, c.groupId))[0].status === 'failed', 5_000);
      const [failed] = await deliveries(admin, c.groupId);
      assert.equal(failed.next_attempt_at, null);
      assert.deepEqual(failed.attempts.map((a: any) => [a.status_code, a.error]), [[503, 'the receiver answered 503'], [503, 'the receiver answered 503']]);
    });
  });

  describe('the expiring-key scan, run by the scheduler', () => {
    const clock = new ManualClock(T0);
    // Every background job of this server runs when the test advances the scheduler, and only then.
    const scheduler = new ManualScheduler(clock);
    let server: TestServer;
    let admin: AdminClient;

    before(async () => {
      server = await startTestServer({ store, clock, scheduler, config: { alertScanMs: 100 } });
      admin = adminClient(server.url);
    });
    after(async () => server.close());

    test('key expiring: once per key, some days before', async () => {
      const hooks = await receiver();
      const c = await setupCustomer(admin);
      await webhook(admin, hooks.url, [c.groupId]);
      const expiring = await admin.post(`/admin/apps/${c.appId}/keys`, { name: 'soon', expires_at: new Date(T0 + 3 * 86_400_000).toISOString() });
      await admin.post(`/admin/apps/${c.appId}/keys`, { name: 'later', expires_at: new Date(T0 + 30 * 86_400_000).toISOString() });
      await server.tollgate.services.alerts.settled();
      assert.deepEqual(await deliveries(admin, c.groupId), [], 'no scan has run since the keys were made');
      await scheduler.advance(100); // one scan
      await until('the key_expiring alert', () => hooks.received.length >= 1);
      await scheduler.advance(400); // several scans
      await server.tollgate.services.alerts.settled();
      assert.equal((await deliveries(admin, c.groupId)).length, 1, 'one alert, one delivery, however many scans');
      assert.equal(hooks.received.length, 1);
      const event = hooks.received[0]!.event;
      assert.deepEqual([event.type, event.data.key_id, event.data.app_id, event.data.expires_at, event.data.notice_days],
        ['key_expiring', expiring.body.key_id, c.appId, expiring.body.expires_at, 7]);
    });
  });

  describe('retries and replays', () => {
    let server: TestServer;
    let admin: AdminClient;

    before(async () => {
      server = await startTestServer({ store, config: { webhookRetryBaseMs: 20, webhookTimeoutMs: 2_000 } });
      admin = adminClient(server.url);
    });
    after(async () => server.close());

    test('a receiver that fails twice gets the delivery on the third attempt; a replay sends the same event again', async () => {
      const hooks = await receiver((n) => (n < 2 ? 500 : 200));
      const c = await setupCustomer(admin, { monthlyQuota: 5 });
      const { secret } = await webhook(admin, hooks.url, [c.groupId]);
      for (let i = 0; i < 4; i += 1) await check(admin, c.key);
      await until('delivered on the third attempt', async () => (await deliveries(admin, c.groupId))[0]?.status === 'delivered');
      const [delivery] = await deliveries(admin, c.groupId);
      assert.deepEqual(delivery.attempts.map((a: any) => a.status_code), [500, 500, 200]);
      assert.deepEqual(delivery.attempts.map((a: any) => a.error), ['the receiver answered 500', 'the receiver answered 500', null]);
      assert.equal(hooks.received.length, 3);
      assert.equal(new Set(hooks.received.map((h) => h.body)).size, 1, 'the same body each time');
      assert.equal(new Set(hooks.received.map((h) => h.headers['tollgate-delivery'])).size, 1, 'the same delivery');
      assert.ok(hooks.received.every((h) => verifyTollgateSignature(secret, h.headers['tollgate-signature'] as string, h.body)));

      const replay = await admin.post(`/admin/webhook-deliveries/${delivery.id}/replay`);
      assert.equal(replay.status, 201);
      assert.deepEqual([replay.body.replay_of, replay.body.alert_id, replay.body.status], [delivery.id, delivery.alert_id, 'pending']);
      await until('the replay', () => hooks.received.length === 4);
      assert.equal(hooks.received[3]!.body, hooks.received[0]!.body);
      assert.equal(hooks.received[3]!.headers['tollgate-delivery'], replay.body.id);
      assert.ok(verifyTollgateSignature(secret, hooks.received[3]!.headers['tollgate-signature'] as string, hooks.received[3]!.body));
      await until('the replay delivered', async () => (await admin.get(`/admin/webhook-deliveries/${replay.body.id}`)).body.status === 'delivered');
      // Every attempt is counted by its outcome in the operations metrics.
      const metrics = await request(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const count = (outcome: string) => Number(new RegExp(`^tollgate_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(String(metrics.body))?.[1] ?? 0);
      assert.deepEqual([count('retrying'), count('delivered'), count('failed')], [2, 2, 0]);
      const log = await deliveries(admin, c.groupId);
      assert.deepEqual(log.map((d) => d.id), [replay.body.id, delivery.id], 'newest first');
      const paged = await admin.get(`/admin/groups/${c.groupId}/webhook-deliveries?limit=1`);
      assert.deepEqual([paged.body.items.length, paged.body.next], [1, replay.body.id]);
      const second = await admin.get(`/admin/groups/${c.groupId}/webhook-deliveries?limit=1&after=${paged.body.next}`);
      assert.deepEqual([second.body.items[0].id, second.body.next], [delivery.id, null]);
      assert.equal((await admin.post('/admin/webhook-deliveries/dlv_nope/replay')).status, 404);
      assert.equal((await admin.get('/admin/webhook-deliveries/dlv_nope')).status, 404);
      assert.equal((await admin.get('/admin/groups/nobody/webhook-deliveries')).status, 404);
    });

    test("integrators' libraries verify every attempt: standardwebhooks the webhook-* headers, stripe Tollgate-Signature; webhook-id holds across retries", async () => {
      const hooks = await receiver((n) => (n < 2 ? 503 : 204));
      const c = await setupCustomer(admin, { monthlyQuota: 5 });
      const { secret } = await webhook(admin, hooks.url, [c.groupId]);
      assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a Standard Webhooks secret: whsec_ and base64');
      for (let i = 0; i < 4; i += 1) await check(admin, c.key);
      await until('delivered on the third attempt', async () => (await deliveries(admin, c.groupId))[0]?.status === 'delivered');
      const [delivery] = await deliveries(admin, c.groupId);
      assert.equal(hooks.received.length, 3);
      for (const hook of hooks.received) {
        assert.deepEqual(verifyStandardWebhook(secret, hook), hook.event, 'standardwebhooks verifies it, and gives the body back');
        assert.equal(hook.headers['webhook-id'], delivery.id, 'the idempotency id: the delivery, the same on every retry');
        assert.equal(hook.headers['tollgate-delivery'], delivery.id);
        assert.match(hook.headers['webhook-signature'] as string, /^v1,[A-Za-z0-9+/]{43}=$/);
        assert.equal(hook.headers['webhook-timestamp'], /^t=(\d+),/.exec(hook.headers['tollgate-signature'] as string)![1], 'one timestamp for both');
        assert.deepEqual(verifyWithStripe(secret, hook), hook.event, "Stripe's library verifies Tollgate-Signature, keyed with the whole secret");
        assert.ok(verifyTollgateSignature(secret, hook.headers['tollgate-signature'] as string, hook.body), 'and so does the README snippet');
        assert.throws(() => verifyWithStripe(secret, { ...hook, body: hook.body.replace('80', '81') }), /No signatures found/);
        assert.throws(() => verifyStandardWebhook(secret, { ...hook, body: hook.body.replace('80', '81') }), /No matching signature/, 'a changed body does not verify');
        assert.throws(() => verifyStandardWebhook(secret, { ...hook, headers: { ...hook.headers, 'webhook-id': 'dlv_other' } }), /No matching signature/, 'nor another id');
        assert.throws(() => verifyStandardWebhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, hook), /No matching signature/, 'nor another secret');
      }
      const replay = await admin.post(`/admin/webhook-deliveries/${delivery.id}/replay`);
      await until('the replay', () => hooks.received.length === 4);
      const resent = hooks.received[3]!;
      assert.equal(resent.headers['webhook-id'], replay.body.id, 'a replay is a new delivery, to be processed again');
      assert.deepEqual(verifyStandardWebhook(secret, resent), hooks.received[0]!.event);
    });

    test('the OpenAPI document describes the alert routes', async () => {
      const doc = (await request(`${server.url}/openapi.json`)).body;
      for (const path of ['/admin/webhooks', '/admin/webhooks/{webhook_id}', '/admin/groups/{group_id}/alert-settings',
        '/admin/groups/{group_id}/webhook-deliveries', '/admin/webhook-deliveries/{delivery_id}', '/admin/webhook-deliveries/{delivery_id}/replay']) {
        assert.ok(doc.paths[path], path);
      }
      assert.ok(doc.paths['/admin/webhooks'].post.responses['201'].content['application/json'].schema);
      assert.ok(doc.paths['/admin/webhook-deliveries/{delivery_id}/replay'].post.responses['409']);
    });
  });
});
