import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { adminClient, request, setupCustomer, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';
import { eachStore } from '../helpers/stores.js';

// The credit grants of the admin API, through real HTTP, on each store.

eachStore((store) => {
  const T0 = Date.parse('2026-03-15T12:00:00Z');
  const DAY = 86_400_000;

  describe('credit grants', () => {
    const clock = new ManualClock(T0);
    let server: TestServer;
    let admin: AdminClient;
    before(async () => {
      server = await startTestServer({ clock, store });
      admin = adminClient(server.url);
    });
    after(async () => {
      await server.close();
    });
    const grants = (groupId: string) => `/admin/groups/${groupId}/grants`;

    test('a grant is made (201), answered again for a repeat of its idempotency key (200), and conflicts with another grant under that key (409)', async () => {
      const { groupId } = await setupCustomer(admin);
      const body = { amount: 5000, expires_at: new Date(T0 + 30 * DAY).toISOString(), priority: 2, note: 'launch offer', idempotency_key: 'offer-1' };
      const created = await admin.post(grants(groupId), body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(created.body.id, /^crg_/);
      assert.deepEqual({ ...created.body, id: '' }, {
        id: '', group_id: groupId, amount: 5000, used: 0, remaining: 5000, priority: 2, expires_at: '2026-04-14T12:00:00.000Z', note: 'launch offer',
        idempotency_key: 'offer-1', source: 'manual', created_at: '2026-03-15T12:00:00.000Z', voided_at: null, status: 'active',
      });
      const replayed = await admin.post(grants(groupId), body);
      assert.equal(replayed.status, 200);
      assert.deepEqual(replayed.body, created.body);
      const conflict = await admin.post(grants(groupId), { ...body, amount: 6000 });
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.error, 'conflict');
      assert.match(conflict.body.message, /idempotency key "offer-1" was used for another grant/);

      const plain = await admin.post(grants(groupId), { amount: 1 });
      assert.equal(plain.status, 201);
      assert.deepEqual([plain.body.priority, plain.body.expires_at, plain.body.note, plain.body.idempotency_key], [0, null, null, null], 'the defaults');
    });

    test('the list shows what is left of each grant, its status, and the balance; voided grants only when asked', async () => {
      const { groupId } = await setupCustomer(admin);
      const soon = await admin.post(grants(groupId), { amount: 100, expires_at: new Date(T0 + DAY).toISOString() });
      const kept = await admin.post(grants(groupId), { amount: 250 });
      const voided = await admin.post(grants(groupId), { amount: 40 });

      const voiding = await admin.post(`${grants(groupId)}/${voided.body.id}/void`);
      assert.equal(voiding.status, 200);
      assert.equal(voiding.body.status, 'voided');
      assert.equal(voiding.body.voided_at, '2026-03-15T12:00:00.000Z');
      clock.advance(1000);
      const again = await admin.post(`${grants(groupId)}/${voided.body.id}/void`);
      assert.deepEqual(again.body, voiding.body, 'voiding again changes nothing');

      const list = await admin.get(grants(groupId));
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items.map((g: any) => [g.id, g.remaining, g.status]), [[soon.body.id, 100, 'active'], [kept.body.id, 250, 'active']]);
      assert.deepEqual([list.body.balance, list.body.debt, list.body.next], [350, 0, null]);
      const all = await admin.get(`${grants(groupId)}?include_voided=true`);
      assert.deepEqual(all.body.items.map((g: any) => g.status), ['active', 'active', 'voided']);
      const paged = await admin.get(`${grants(groupId)}?include_voided=true&limit=2`);
      assert.equal(paged.body.items.length, 2);
      const rest = await admin.get(`${grants(groupId)}?include_voided=true&limit=2&after=${paged.body.next}`);
      assert.deepEqual(rest.body.items.map((g: any) => g.id), [voided.body.id]);

      clock.advance(DAY);
      const later = await admin.get(grants(groupId));
      assert.deepEqual(later.body.items.map((g: any) => g.status), ['expired', 'active']);
      assert.equal(later.body.balance, 250, 'an expired grant no longer counts');
      clock.set(T0);
    });

    test('invalid grants are refused with 400s that say what is wrong', async () => {
      const { groupId } = await setupCustomer(admin);
      const refused = async (body: unknown, pattern: RegExp) => {
        const res = await admin.post(grants(groupId), body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.error, 'invalid_request');
        assert.match(res.body.message, pattern, JSON.stringify(body));
      };
      await refused({}, /amount/);
      await refused({ amount: 0 }, /amount/);
      await refused({ amount: 1.5 }, /amount/);
      await refused({ amount: '10' }, /amount/);
      await refused({ amount: 10, expires_at: 'tomorrow' }, /expires_at/);
      await refused({ amount: 10, expires_at: new Date(T0 - 1000).toISOString() }, /"expires_at" must be in the future/);
      await refused({ amount: 10, priority: 0.5 }, /priority/);
      await refused({ amount: 10, note: 'x'.repeat(501) }, /note/);
      await refused({ amount: 10, idempotency_key: '' }, /idempotency_key/);
      await refused({ amount: 10, colour: 'red' }, /colour/);
      const badQuery = await admin.get(`${grants(groupId)}?include_voided=yes`);
      assert.equal(badQuery.status, 400);
      assert.match(badQuery.body.message, /include_voided/);
      assert.deepEqual((await admin.get(grants(groupId))).body.items, [], 'nothing was granted');
    });

    test('an unknown group or grant is a 404; the admin token is required', async () => {
      for (const res of [
        await admin.post(grants('no-such-group'), { amount: 10 }),
        await admin.get(grants('no-such-group')),
        await admin.post(`${grants('no-such-group')}/crg_x/void`),
      ]) {
        assert.equal(res.status, 404);
        assert.match(res.body.message, /No group with id "no-such-group"|No credit grant/);
      }
      const { groupId } = await setupCustomer(admin);
      const other = await setupCustomer(admin);
      const grant = await admin.post(grants(other.groupId), { amount: 10 });
      const wrongGroup = await admin.post(`${grants(groupId)}/${grant.body.id}/void`);
      assert.equal(wrongGroup.status, 404, "another group's grant is not found through this one");
      assert.match(wrongGroup.body.message, /No credit grant with id/);
      const anonymous = await request(`${server.url}${grants(groupId)}`, { method: 'POST', body: { amount: 10 } });
      assert.equal(anonymous.status, 401);
    });
  });
});
