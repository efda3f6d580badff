import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { balanceOf, type CreditGrant } from '../../src/domain/credits.js';
import { ConflictError, NotFoundError } from '../../src/domain/errors.js';
import { billingPeriod } from '../../src/domain/periods.js';
import { DUPLICATE, type PendingWrite } from '../../src/engine/pending-write.js';
import type { NewCreditGrant, Store } from '../../src/store/store.js';

/**
 * What a store's credits must do: grants made once per idempotency key,
 * listed, voided; the plan's recurring grant issued once per period with its
 * rollover; and the durable writer applying what events consumed in the
 * same transaction as the events, a duplicate applying nothing.
 */
export interface CreditHarness {
  readonly store: Store;
  /** Commits a batch with the store's durable writer, as the metering engine does; one event id (or DUPLICATE) per item. */
  commit(items: PendingWrite[], receivedAt: number): Promise<Array<number | string>>;
  /** Runs the store's own bookkeeping of what was used, when it has any (the scale-out store folds its credit uses). */
  settle?(): Promise<void>;
  /** Closes the store (and the writer) and opens them again on the same data. */
  reopen(): Promise<void>;
  destroy(): Promise<void>;
}

const T0 = Date.parse('2026-03-15T12:00:00Z');
const MARCH = billingPeriod(T0, 'UTC');
const APRIL = billingPeriod(MARCH.end, 'UTC');
const MAY = billingPeriod(APRIL.end, 'UTC');

let sequence = 0;
const uid = (kind: string) => `${kind}-${(sequence += 1)}-${Math.random().toString(36).slice(2, 7)}`;

const grantOf = (over: Partial<NewCreditGrant> = {}): NewCreditGrant => ({ amount: 100, priority: 0, expiresAt: null, note: null, idempotencyKey: null, ...over });

function event(groupId: string, over: Partial<PendingWrite> = {}): PendingWrite {
  return { ts: T0, groupId, appId: 'app', keyId: null, usageType: 'image', requestArgsHash: '', count: 1, ...over };
}

export function creditStoreConformance(name: string, open: () => Promise<CreditHarness>): void {
  describe(`credit store conformance: ${name}`, () => {
    let harness: CreditHarness;
    const changes: string[] = [];
    const listen = () => harness.store.credits.onChange((groupId) => { changes.push(groupId); });
    before(async () => {
      harness = await open();
      listen();
    });
    after(async () => {
      await harness.destroy();
    });
    const credits = () => harness.store.credits;

    async function group(): Promise<string> {
      const planId = uid('plan');
      const groupId = uid('group');
      await harness.store.createPlan({ id: planId, monthlyQuota: -1, rateLimitPerMinute: -1, pricePerCall: null, timeZone: 'UTC' }, T0);
      await harness.store.createGroup({ id: groupId, name: 'G', planId }, T0);
      return groupId;
    }

    test('a grant is made once per idempotency key: the same grant again answers the first, another one conflicts', async () => {
      const g = await group();
      const first = await credits().grant(g, grantOf({ amount: 500, priority: 2, expiresAt: T0 + 86_400_000, note: 'launch', idempotencyKey: 'k1' }), T0);
      assert.equal(first.created, true);
      assert.deepEqual({ ...first.grant, id: '' }, {
        id: '', groupId: g, amount: 500, used: 0, priority: 2, expiresAt: T0 + 86_400_000, note: 'launch', idempotencyKey: 'k1', source: 'manual',
        createdAt: T0, voidedAt: null,
      });
      assert.match(first.grant.id, /^crg_/);
      assert.deepEqual(changes.filter((c) => c === g), [g], 'the listeners heard of it');

      const again = await credits().grant(g, grantOf({ amount: 500, priority: 2, expiresAt: T0 + 86_400_000, note: 'launch', idempotencyKey: 'k1' }), T0 + 5);
      assert.deepEqual(again, { grant: first.grant, created: false });
      await assert.rejects(credits().grant(g, grantOf({ amount: 501, priority: 2, expiresAt: T0 + 86_400_000, note: 'launch', idempotencyKey: 'k1' }), T0), ConflictError);
      assert.deepEqual(changes.filter((c) => c === g), [g], 'a replay changes nothing');

      const other = await group();
      assert.equal((await credits().grant(other, grantOf({ idempotencyKey: 'k1' }), T0)).created, true, "keys are the group's own");
      const concurrent = await Promise.all(Array.from({ length: 8 }, () => credits().grant(g, grantOf({ idempotencyKey: 'k2' }), T0)));
      assert.equal(concurrent.filter((r) => r.created).length, 1, 'one of eight concurrent grants under one key is made');
      assert.equal(new Set(concurrent.map((r) => r.grant.id)).size, 1);
      await assert.rejects(credits().grant('no-such-group', grantOf(), T0), NotFoundError);
    });

    test('grants are listed oldest first by pages, voided ones on demand; voiding is idempotent and only in the grant\'s group', async () => {
      const g = await group();
      const made: CreditGrant[] = [];
      for (let i = 0; i < 5; i += 1) made.push((await credits().grant(g, grantOf({ amount: 10 + i }), T0 + i)).grant);
      const voided = await credits().voidGrant(g, made[1]!.id, T0 + 10);
      assert.equal(voided.voidedAt, T0 + 10);
      assert.equal((await credits().voidGrant(g, made[1]!.id, T0 + 20)).voidedAt, T0 + 10, 'the first voiding time stays');
      await assert.rejects(credits().voidGrant(await group(), made[0]!.id, T0), NotFoundError, "another group's grant");
      await assert.rejects(credits().voidGrant(g, 'crg_nope', T0), NotFoundError);

      const page1 = await credits().listGrants(g, { limit: 2 });
      assert.deepEqual(page1.items.map((x) => x.amount), [10, 12]);
      const page2 = await credits().listGrants(g, { limit: 2, after: page1.next! });
      assert.deepEqual(page2.items.map((x) => x.amount), [13, 14]);
      assert.equal(page2.next, null);
      assert.deepEqual((await credits().listGrants(g, { limit: 10 }, { includeVoided: true })).items.map((x) => x.amount), [10, 11, 12, 13, 14]);
      assert.deepEqual(await credits().getGrant(g, made[1]!.id), voided);
      assert.equal(await credits().getGrant(await group(), made[1]!.id), null);
      await assert.rejects(credits().listGrants('no-such-group', { limit: 10 }), NotFoundError);

      const state = await credits().creditState(g);
      assert.deepEqual(state.grants.map((x) => x.amount), [10, 12, 13, 14]);
      assert.equal(state.debt, 0);
    });

    test('the durable writer applies what each event consumed with the event, folded per grant; a duplicate applies nothing', async () => {
      const g = await group();
      const a = (await credits().grant(g, grantOf({ amount: 10, priority: 1 }), T0)).grant;
      const b = (await credits().grant(g, grantOf({ amount: 5 }), T0)).grant;
      const key = uid('evt');
      const seqs = await harness.commit([
        event(g, { credits: [{ kind: 'grant', grantId: a.id, amount: 3 }] }),
        event(g, { dedupKey: key, credits: [{ kind: 'grant', grantId: a.id, amount: 7 }, { kind: 'grant', grantId: b.id, amount: 5 }, { kind: 'debt', groupId: g, amount: 2 }] }),
        // The same event again, in the same batch: a duplicate, whose movements must not land.
        event(g, { dedupKey: key, credits: [{ kind: 'grant', grantId: b.id, amount: 5 }, { kind: 'debt', groupId: g, amount: 50 }] }),
        event(g),
      ], T0);
      assert.equal(seqs[2], DUPLICATE);
      assert.ok(seqs.every((s, i) => i === 2 || s !== DUPLICATE));
      // And again in a later batch; then an event that repays debt.
      assert.deepEqual((await harness.commit([event(g, { dedupKey: key, credits: [{ kind: 'debt', groupId: g, amount: 9 }] })], T0))[0], DUPLICATE);
      await harness.commit([event(g, { credits: [{ kind: 'debt', groupId: g, amount: -1 }] })], T0);

      const expect = async () => {
        const state = await credits().creditState(g);
        assert.deepEqual(state.grants.map((x) => [x.id, x.used]), [[a.id, 10], [b.id, 5]]);
        assert.equal(state.debt, 1);
        assert.equal(balanceOf(state.grants, state.debt, T0), -1);
        assert.equal((await credits().getGrant(g, a.id))!.used, 10);
        assert.deepEqual((await credits().listGrants(g, { limit: 10 })).items.map((x) => x.used), [10, 5]);
      };
      await expect();
      await harness.settle?.();
      await expect();
      await harness.reopen();
      listen();
      await expect();
    });

    test('a batch that fails applies none of its movements: they commit with the events or not at all', async () => {
      const g = await group();
      const a = (await credits().grant(g, grantOf({ amount: 10 }), T0)).grant;
      const broken = event(g, { count: null as unknown as number });
      await assert.rejects(harness.commit([event(g, { credits: [{ kind: 'grant', grantId: a.id, amount: 4 }, { kind: 'debt', groupId: g, amount: 3 }] }), broken], T0));
      const state = await credits().creditState(g);
      assert.equal(state.grants[0]!.used, 0);
      assert.equal(state.debt, 0);
    });

    test("the plan's grant is issued once per period: rollover none expires at the period's end, all never", async () => {
      const g = await group();
      const tries = await Promise.all(Array.from({ length: 6 }, () => credits().issuePeriodGrant(g, { amount: 1000, rollover: 'none' }, MARCH, T0)));
      assert.equal(tries.filter((t) => t.created).length, 1, 'one of six concurrent issues');
      const march = tries[0]!.grant;
      assert.deepEqual({ ...march, id: '', idempotencyKey: '' }, {
        id: '', groupId: g, amount: 1000, used: 0, priority: 0, expiresAt: MARCH.end, note: null, idempotencyKey: '', source: 'period', createdAt: T0, voidedAt: null,
      });
      assert.ok(tries.every((t) => t.grant.id === march.id));
      const april = await credits().issuePeriodGrant(g, { amount: 1000, rollover: 'none' }, APRIL, APRIL.start + 5);
      assert.equal(april.grant.expiresAt, APRIL.end);
      const state = await credits().creditState(g);
      assert.equal(state.grants.length, 2, 'nothing carried over');
      assert.equal(balanceOf(state.grants, 0, APRIL.start), 1000);

      const h = await group();
      const forever = await credits().issuePeriodGrant(h, { amount: 300, rollover: 'all' }, MARCH, T0);
      assert.equal(forever.grant.expiresAt, null);
      await credits().issuePeriodGrant(h, { amount: 300, rollover: 'all' }, APRIL, APRIL.start);
      assert.equal(balanceOf((await credits().creditState(h)).grants, 0, APRIL.start + 1), 600);
    });

    test("a capped rollover carries at most that much of the last period's grant, as a grant of its own that is spent first", async () => {
      const g = await group();
      const march = (await credits().issuePeriodGrant(g, { amount: 100, rollover: 40 }, MARCH, T0)).grant;
      await harness.commit([event(g, { credits: [{ kind: 'grant', grantId: march.id, amount: 70 }] })], T0);
      const april = await credits().issuePeriodGrant(g, { amount: 100, rollover: 40 }, APRIL, APRIL.start + 1);
      assert.equal(april.created, true);
      let state = await credits().creditState(g);
      const carried = state.grants.find((x) => x.id !== march.id && x.id !== april.grant.id)!;
      assert.deepEqual([carried.amount, carried.expiresAt, carried.source], [30, APRIL.end, 'period'], 'all 30 left, under the cap of 40');
      assert.ok(carried.id < april.grant.id, 'made first: spent first of the two');
      assert.equal(balanceOf(state.grants, 0, APRIL.start + 1), 130);
      assert.deepEqual(await credits().issuePeriodGrant(g, { amount: 100, rollover: 40 }, APRIL, APRIL.start + 9), { grant: april.grant, created: false });

      // Unused in April: only 40 of its 100 come to May, and what April carried does not carry again.
      await credits().issuePeriodGrant(g, { amount: 100, rollover: 40 }, MAY, MAY.start);
      state = await credits().creditState(g);
      assert.equal(balanceOf(state.grants, 0, MAY.start), 140);

      // A grant that never expired (rollover all before) is cut off at the new period's start, and capped.
      const h = await group();
      const old = (await credits().issuePeriodGrant(h, { amount: 100, rollover: 'all' }, MARCH, T0)).grant;
      await credits().issuePeriodGrant(h, { amount: 100, rollover: 25 }, APRIL, APRIL.start);
      state = await credits().creditState(h);
      assert.equal(state.grants.find((x) => x.id === old.id)!.expiresAt, APRIL.start);
      assert.equal(balanceOf(state.grants, 0, APRIL.start), 125);
      assert.ok(changes.includes(h), 'the listeners heard of the issue');
    });
  });
}
