import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Alert } from '../../src/domain/alerts.js';
import { newId, newSortableId } from '../../src/domain/secrets.js';
import { ConflictError, NotFoundError } from '../../src/domain/errors.js';
import type { Store } from '../../src/store/store.js';

const T0 = Date.parse('2026-03-15T12:00:00Z');
const MONTH = Date.parse('2026-03-01T00:00:00Z');

interface Customer {
  groupId: string;
  appId: string;
}

/**
 * The alert part of the store contract (run by storeConformance against
 * every store): alerts recorded once, the outbox claimed by one deliverer
 * at a time, attempts logged, deliveries listed and replayed.
 */
export function alertStoreTests(get: () => Store, reopen: () => Promise<Store>, customer: () => Promise<Customer>): void {
  describe('alerts', () => {
    let store: Store;
    before(() => {
      store = get();
    });

    const alert = (groupId: string, over: Partial<Alert> = {}): Alert => ({
      id: newSortableId('alt', T0), groupId, kind: 'quota_threshold', subject: '', threshold: 80, periodStart: MONTH, createdAt: T0,
      body: JSON.stringify({ type: 'quota_threshold', group_id: groupId }), ...over,
    });
    const endpoint = (groupIds: string[] | null) =>
      store.alerts.createWebhookEndpoint({ id: newId('whe'), url: 'http://127.0.0.1:9/hook', groupIds, description: 'd', createdAt: T0 });

    test('settings: none until set, then replaced whole; a missing group is not found', async () => {
      const c = await customer();
      assert.equal(await store.alerts.getAlertSettings(c.groupId), null);
      const put = await store.alerts.putAlertSettings({ groupId: c.groupId, thresholds: [50, 90], kinds: ['quota_threshold'], creditsLow: { below: 50 }, updatedAt: T0 });
      assert.deepEqual(put, { groupId: c.groupId, thresholds: [50, 90], kinds: ['quota_threshold'], creditsLow: { below: 50 }, updatedAt: T0 });
      await store.alerts.putAlertSettings({ groupId: c.groupId, thresholds: [100], kinds: ['key_expiring', 'rate_limit_hit'], creditsLow: { belowShare: 0.25 }, updatedAt: T0 + 1 });
      assert.deepEqual(await store.alerts.getAlertSettings(c.groupId), { groupId: c.groupId, thresholds: [100], kinds: ['key_expiring', 'rate_limit_hit'], creditsLow: { belowShare: 0.25 }, updatedAt: T0 + 1 });
      await assert.rejects(store.alerts.getAlertSettings('no-such-group'), NotFoundError);
      await assert.rejects(store.alerts.putAlertSettings({ groupId: 'no-such-group', thresholds: [], kinds: [], creditsLow: null, updatedAt: T0 }), NotFoundError);
    });

    test('an alert is recorded once, also when raised concurrently and after a reopen, with a delivery per endpoint that takes its group', async () => {
      const c = await customer();
      const other = await customer();
      const forAll = await endpoint(null);
      const forGroup = await endpoint([c.groupId]);
      await endpoint([other.groupId]);
      const deleted = await endpoint([c.groupId]);
      await store.alerts.disableWebhookEndpoint(deleted.id, T0);

      const results = await Promise.all(Array.from({ length: 10 }, () => store.alerts.recordAlert(alert(c.groupId))));
      assert.equal(results.filter((r) => r.recorded).length, 1, 'exactly one of ten concurrent raises records it');
      assert.equal(results.find((r) => r.recorded)!.deliveries, 2);
      const page = await store.alerts.listDeliveries(c.groupId, { limit: 100 });
      assert.deepEqual(page.items.map((d) => d.endpointId).sort(), [forAll.id, forGroup.id].sort());
      assert.ok(page.items.every((d) => d.status === 'pending' && d.nextAttemptAt === T0 && d.attempts.length === 0 && d.kind === 'quota_threshold'));

      assert.equal((await store.alerts.recordAlert(alert(c.groupId, { threshold: 100 }))).recorded, true, 'another threshold');
      assert.equal((await store.alerts.recordAlert(alert(c.groupId, { periodStart: Date.parse('2026-04-01T00:00:00Z') }))).recorded, true, 'another period');
      assert.equal((await store.alerts.recordAlert(alert(c.groupId, { subject: c.appId }))).recorded, true, 'another subject');
      store = await reopen();
      assert.deepEqual(await store.alerts.recordAlert(alert(c.groupId)), { recorded: false, deliveries: 0 }, 'still once after a reopen');
      // The other tests count their own group's deliveries.
      await store.alerts.disableWebhookEndpoint(forAll.id, T0);
    });

    test('endpoints: listed by pages, deleted once; deleting one fails its pending deliveries', async () => {
      const c = await customer();
      const a = await endpoint([c.groupId]);
      await assert.rejects(store.alerts.createWebhookEndpoint({ ...a, disabledAt: null } as never), ConflictError);
      assert.deepEqual(await store.alerts.getWebhookEndpoint(a.id), { id: a.id, url: 'http://127.0.0.1:9/hook', groupIds: [c.groupId], description: 'd', createdAt: T0, disabledAt: null });
      await store.alerts.recordAlert(alert(c.groupId));
      assert.equal((await store.alerts.disableWebhookEndpoint(a.id, T0 + 5)).disabledAt, T0 + 5);
      assert.equal((await store.alerts.disableWebhookEndpoint(a.id, T0 + 9)).disabledAt, T0 + 5, 'the first deletion time stays');
      const [delivery] = (await store.alerts.listDeliveries(c.groupId, { limit: 10 })).items;
      assert.equal(delivery!.status, 'failed');
      await assert.rejects(store.alerts.replayDelivery(delivery!.id, T0), ConflictError);
      await assert.rejects(store.alerts.disableWebhookEndpoint('whe_missing', T0), NotFoundError);
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.alerts.listWebhookEndpoints({ limit: 2, ...(after ? { after } : {}) });
        seen.push(...page.items.map((e) => e.id));
        if (page.next === null) break;
        after = page.next;
      }
      assert.ok(seen.includes(a.id));
      assert.equal(new Set(seen).size, seen.length);
    });

    test('the outbox: claims never overlap, a lease keeps a delivery from others until it ends, attempts are logged', async () => {
      const c = await customer();
      const e = await endpoint([c.groupId]);
      for (let i = 0; i < 12; i += 1) await store.alerts.recordAlert(alert(c.groupId, { threshold: i + 1 }));
      const leaseUntil = T0 + 60_000;
      const claims = await Promise.all([1, 2, 3].map(() => store.alerts.claimDeliveries(T0, 12, leaseUntil)));
      const claimed = claims.flat().filter((d) => d.endpointId === e.id);
      assert.equal(claimed.length, 12, 'every due delivery claimed');
      assert.equal(new Set(claimed.map((d) => d.id)).size, 12, 'none claimed twice');
      assert.ok(claimed.every((d) => d.url === e.url && d.attempts === 0 && d.body.includes(c.groupId)));
      assert.deepEqual((await store.alerts.claimDeliveries(T0 + 1000, 100, leaseUntil)).filter((d) => d.endpointId === e.id), [], 'leased');

      const [first, second, third] = claimed;
      await store.alerts.finishAttempt(first!.id, { at: T0, durationMs: 12, statusCode: 500, error: 'HTTP 500' }, { status: 'pending', nextAttemptAt: T0 + 30_000 });
      await store.alerts.finishAttempt(second!.id, { at: T0, durationMs: 8, statusCode: 204, error: null }, { status: 'delivered' });
      await store.alerts.finishAttempt(third!.id, { at: T0, durationMs: 10_000, statusCode: null, error: 'timed out' }, { status: 'failed' });
      assert.deepEqual((await store.alerts.claimDeliveries(T0 + 29_999, 100, leaseUntil)).filter((d) => d.endpointId === e.id), [], 'not due yet');
      const retry = (await store.alerts.claimDeliveries(T0 + 30_000, 100, T0 + 90_000)).filter((d) => d.endpointId === e.id);
      assert.deepEqual(retry.map((d) => [d.id, d.attempts]), [[first!.id, 1]], 'due again once its lease was ended by the attempt');
      const expired = (await store.alerts.claimDeliveries(leaseUntil, 100, leaseUntil + 60_000)).filter((d) => d.endpointId === e.id);
      assert.equal(expired.length, 9, 'a lease that ran out frees its delivery');

      await store.alerts.finishAttempt(first!.id, { at: T0 + 30_000, durationMs: 5, statusCode: 200, error: null }, { status: 'delivered' });
      const done = (await store.alerts.getDelivery(first!.id))!;
      assert.equal(done.status, 'delivered');
      assert.equal(done.nextAttemptAt, null);
      assert.deepEqual(done.attempts, [
        { at: T0, durationMs: 12, statusCode: 500, error: 'HTTP 500' },
        { at: T0 + 30_000, durationMs: 5, statusCode: 200, error: null },
      ]);
      assert.equal((await store.alerts.getDelivery(third!.id))!.status, 'failed');
      await assert.rejects(store.alerts.finishAttempt('dlv_missing', { at: T0, durationMs: 1, statusCode: 200, error: null }, { status: 'delivered' }), NotFoundError);
    });

    test("a group's deliveries come newest first, by pages; a replay is a new pending delivery of the same alert", async () => {
      const c = await customer();
      const e = await endpoint([c.groupId]);
      for (let i = 0; i < 5; i += 1) await store.alerts.recordAlert(alert(c.groupId, { threshold: 10 * (i + 1), createdAt: T0 + i * 1000 }));
      const ids: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.alerts.listDeliveries(c.groupId, { limit: 2, ...(after ? { after } : {}) });
        ids.push(...page.items.map((d) => d.id));
        if (page.next === null) break;
        after = page.next;
      }
      assert.equal(ids.length, 5);
      const all = await Promise.all(ids.map(async (id) => (await store.alerts.getDelivery(id))!));
      assert.deepEqual(all.map((d) => d.createdAt), [4, 3, 2, 1, 0].map((i) => T0 + i * 1000), 'newest first');
      const original = all[4]!;
      const replay = await store.alerts.replayDelivery(original.id, T0 + 10_000);
      assert.notEqual(replay.id, original.id);
      assert.equal(replay.replayOf, original.id);
      assert.equal(replay.alertId, original.alertId);
      assert.equal(replay.endpointId, e.id);
      assert.equal(replay.body, original.body);
      assert.equal(replay.status, 'pending');
      assert.equal(replay.nextAttemptAt, T0 + 10_000);
      assert.equal((await store.alerts.listDeliveries(c.groupId, { limit: 1 })).items[0]!.id, replay.id, 'the replay is the newest');
      await assert.rejects(store.alerts.replayDelivery('dlv_missing', T0), NotFoundError);
      assert.equal(await store.alerts.getDelivery('dlv_missing'), null);
      assert.deepEqual(await store.alerts.listDeliveries('no-such-group', { limit: 5 }), { items: [], next: null });
    });

    test('keys expiring in a window, revoked ones left out', async () => {
      const c = await customer();
      const from = Date.parse('2031-01-01T00:00:00Z');
      const key = (id: string, expiresAt: number | null) =>
        store.createKey({ id, appId: c.appId, name: id, hint: 'tg_…', secretHash: newId('hash'), createdAt: T0, expiresAt });
      const soon = await key(newId('key'), from + 86_400_000);
      const sooner = await key(newId('key'), from + 3_600_000);
      const revoked = await key(newId('key'), from + 7_200_000);
      await store.revokeKey(revoked.id, T0);
      await key(newId('key'), from + 8 * 86_400_000);
      await key(newId('key'), null);
      await key(newId('key'), from);
      const found = await store.alerts.findExpiringKeys(from, from + 7 * 86_400_000, 100);
      assert.deepEqual(found.map((k) => k.id), [sooner.id, soon.id]);
      assert.equal(found[0]!.groupId, c.groupId);
      assert.deepEqual((await store.alerts.findExpiringKeys(from, from + 7 * 86_400_000, 1)).map((k) => k.id), [sooner.id]);
    });
  });
}
