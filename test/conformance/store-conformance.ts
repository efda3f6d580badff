import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { billingPeriod } from '../../src/domain/periods.js';
import { ConflictError, NotFoundError } from '../../src/domain/errors.js';
import type { CommitObserver, CommitReport } from '../../src/engine/group-commit.js';
import type { CatalogStore, Store, StoredStatement } from '../../src/store/store.js';
import type { MeterRequest } from '../../src/domain/metering.js';
import { groupUsed, shorthandLimits, state, UNLIMITED, type Shorthand } from '../helpers/limits.js';
import { alertStoreTests } from './alert-store-conformance.js';
import { counterSeedTests } from './counter-seed-conformance.js';

/**
 * What every Store must do, whatever it is made of. Each implementation's
 * test file calls `storeConformance` with a factory; a behaviour proven here
 * is proven for every store.
 */
export interface StoreHarness {
  store: Store;
  /** Closes the store and opens it again on the same data. */
  reopen(): Promise<Store>;
  /** Closes the store and deletes its data. */
  destroy(): Promise<void>;
}

const T0 = Date.parse('2026-03-15T12:00:00Z');
/** The UTC day that holds T0. */
const DAY = Date.parse('2026-03-15T00:00:00Z');

let sequence = 0;
const uid = (kind: string) => `${kind}-${(sequence += 1)}-${Math.random().toString(36).slice(2, 7)}`;

/** What the harness passes to every store it opens, the reopened ones included. */
export interface StoreHarnessOptions {
  commitObserver: CommitObserver;
}

export function storeConformance(name: string, open: (options: StoreHarnessOptions) => Promise<StoreHarness>): void {
  describe(`store conformance: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;
    const commits: CommitReport[] = [];
    before(async () => {
      harness = await open({ commitObserver: { batchCommitted: (report) => commits.push(report) } });
      store = harness.store;
    });
    after(async () => {
      await harness.destroy();
    });

    const customer = (timeZone = 'UTC') => createCustomer(store, timeZone);

    /** Sums of one dimension over one run of buckets. */
    async function sum(groupId: string, dimension: 'usage_type' | 'app_id' | 'request_args_hash', level: 'quarter' | 'hour' | 'day', start: number, end: number) {
      const [rows] = await store.sumRollups({ groupId, dimension, segments: [{ level, start, end }] });
      return rows!;
    }

    /** `limits`: the shorthand limits of the plan and the app, as applied limits. */
    function meterRequest(c: { groupId: string; appId: string; keyId: string }, overrides: Partial<Omit<MeterRequest, 'limits'>> & { limits?: Shorthand } = {}): MeterRequest {
      const now = overrides.now ?? T0;
      const { limits = UNLIMITED, ...rest } = overrides;
      return {
        now, groupId: c.groupId, appId: c.appId, keyId: c.keyId,
        period: billingPeriod(now, 'UTC'), mode: 'record', usageType: 'image', requestArgsHash: '', cost: 1,
        ...rest, limits: shorthandLimits(limits, c),
      };
    }

    catalogueTests(() => store);
    alertStoreTests(() => store, async () => (store = await harness.reopen()), () => customer());
    counterSeedTests(() => store, () => customer());

    describe('metering', () => {
      test('a quota of N admits exactly N, concurrently, and records each', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupMonthlyQuota: 50 };
        const results = await Promise.all(Array.from({ length: 80 }, () => store.meter(meterRequest(c, { limits }))));
        assert.equal(results.filter((r) => r.allowed).length, 50);
        const refused = results.filter((r) => !r.allowed);
        assert.ok(refused.every((r) => r.code === 'quota_exceeded' && r.deniedBy === 'month'));
        assert.ok(refused.every((r) => r.retryAfterMs === billingPeriod(T0, 'UTC').end - T0), 'retry when the period ends');
        assert.deepEqual(await store.periodUsage(c.groupId, c.appId, billingPeriod(T0, 'UTC')), { groupUsed: 50, appUsed: 50 });
      });

      test('all or nothing: a call refused by one limit consumes none of the others', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupRatePerMinute: 3, groupMonthlyQuota: 5 };
        for (let i = 0; i < 3; i += 1) assert.equal((await store.meter(meterRequest(c, { limits }))).allowed, true);
        const rateRefused = await store.meter(meterRequest(c, { limits }));
        assert.equal(rateRefused.code, 'rate_limited');
        assert.equal(groupUsed(rateRefused), 3, 'the rate refusal took no quota');
        // A minute later the window has room; the quota allows 2 more.
        const later = T0 + 120_000;
        assert.equal((await store.meter(meterRequest(c, { limits, now: later, cost: 2 }))).allowed, true);
        const quotaRefused = await store.meter(meterRequest(c, { limits, now: later }));
        assert.equal(quotaRefused.code, 'quota_exceeded');
        assert.equal(state(quotaRefused, 'minute').remaining, 1, 'the quota refusal took nothing from the window');
      });

      test("an app's own limits bind on top of its group's", async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, appMonthlyQuota: 2, groupMonthlyQuota: 100 };
        await store.meter(meterRequest(c, { limits }));
        await store.meter(meterRequest(c, { limits }));
        const third = await store.meter(meterRequest(c, { limits }));
        assert.equal(third.allowed, false);
        assert.equal(third.code, 'quota_exceeded');
        assert.equal(third.deniedBy, 'app-month');
        const rateLimited = await store.meter(meterRequest(c, { limits: { ...UNLIMITED, appRatePerMinute: 0 } }));
        assert.equal(rateLimited.code, 'rate_limited');
        assert.equal(rateLimited.deniedBy, 'app-minute');
      });

      test('a refusal waits for every limit that refused it; each window says when its next unit comes back', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupRatePerMinute: 3, appRatePerMinute: 2 };
        assert.equal((await store.meter(meterRequest(c, { limits }))).allowed, true);
        assert.equal((await store.meter(meterRequest(c, { limits, now: T0 + 30_000 }))).allowed, true);
        // Both windows hold 2 units of 12:00. Cost 2 at 12:00:30: the group's (3) needs them to weigh 1, at 12:01:30;
        // the app's (2) needs them to weigh 0, at 12:02:00. The group is named, and the wait is the app's.
        const refused = await store.meter(meterRequest(c, { limits, now: T0 + 30_000, cost: 2 }));
        assert.equal(refused.code, 'rate_limited');
        assert.equal(refused.deniedBy, 'minute');
        assert.equal(refused.retryAfterMs, 90_000);
        assert.deepEqual([state(refused, 'minute').remaining, state(refused, 'minute').nextUnitMs], [1, 60_000]);
        assert.deepEqual([state(refused, 'app-minute').remaining, state(refused, 'app-minute').nextUnitMs], [0, 60_000]);
      });

      test('rate_only counts against the minute window but neither the quota nor the records', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupRatePerMinute: 2, groupMonthlyQuota: 1 };
        const first = await store.meter(meterRequest(c, { limits, mode: 'rate_only' }));
        assert.equal(first.allowed, true);
        assert.equal(groupUsed(first), 0);
        assert.equal(first.eventId, null);
        await store.meter(meterRequest(c, { limits, mode: 'rate_only' }));
        assert.equal((await store.meter(meterRequest(c, { limits, mode: 'rate_only' }))).code, 'rate_limited');
        assert.deepEqual(await sum(c.groupId, 'usage_type', 'day', DAY, DAY + 86_400_000), []);
      });

      test('the quota starts again in the next billing period', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupMonthlyQuota: 1 };
        assert.equal((await store.meter(meterRequest(c, { limits }))).allowed, true);
        assert.equal((await store.meter(meterRequest(c, { limits }))).allowed, false);
        const nextMonth = billingPeriod(T0, 'UTC').end + 1;
        const r = await store.meter(meterRequest(c, { limits, now: nextMonth, period: billingPeriod(nextMonth, 'UTC') }));
        assert.equal(r.allowed, true);
        assert.equal(groupUsed(r), 1);
      });

      test('idempotency: a repeated key gets the first answer and is counted once, also when concurrent', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupMonthlyQuota: 10 };
        const first = await store.meter(meterRequest(c, { limits, idempotencyKey: 'req-1' }));
        const again = await store.meter(meterRequest(c, { limits, idempotencyKey: 'req-1', now: T0 + 5000 }));
        assert.equal(again.replayed, true);
        assert.deepEqual({ ...again, replayed: false }, first);
        const burst = await Promise.all(Array.from({ length: 5 }, () => store.meter(meterRequest(c, { limits, idempotencyKey: 'req-2' }))));
        assert.equal(burst.filter((r) => !r.replayed).length, 1);
        assert.equal(new Set(burst.map((r) => r.eventId)).size, 1);
        assert.equal((await store.periodUsage(c.groupId, c.appId, billingPeriod(T0, 'UTC'))).groupUsed, 2);
      });

      test('idempotency keys are scoped to the group', async () => {
        const a = await customer();
        const b = await customer();
        await store.meter(meterRequest(a, { idempotencyKey: 'shared' }));
        const other = await store.meter(meterRequest(b, { idempotencyKey: 'shared' }));
        assert.equal(other.replayed, false);
        assert.equal(groupUsed(other), 1);
      });

      test('a refused call is not remembered: the retry under the same key is decided afresh', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupRatePerMinute: 1 };
        await store.meter(meterRequest(c, { limits }));
        const refused = await store.meter(meterRequest(c, { limits, idempotencyKey: 'retry-me' }));
        assert.equal(refused.allowed, false);
        const retried = await store.meter(meterRequest(c, { limits, idempotencyKey: 'retry-me', now: T0 + 180_000 }));
        assert.equal(retried.allowed, true);
        assert.equal(retried.replayed, false);
      });
    });

    describe('reservations', () => {
      test('a reservation consumes the limits; settling records the real cost and gives back the rest', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupMonthlyQuota: 10, groupRatePerMinute: 100 };
        const reserve = meterRequest(c, { limits, mode: 'reserve', cost: 5 });
        const held = await store.meter(reserve);
        assert.equal(held.allowed, true);
        assert.equal(groupUsed(held), 5);
        assert.equal(held.eventId, null, 'nothing is written by a reservation');
        await store.settle(reserve, 2);
        assert.deepEqual(await store.periodUsage(c.groupId, c.appId, billingPeriod(T0, 'UTC')), { groupUsed: 2, appUsed: 2 });
        const rows = await sum(c.groupId, 'app_id', 'day', DAY, DAY + 86_400_000);
        assert.deepEqual(rows.map((r) => r.count), [2]);
      });

      test('a settled cost above the reservation is recorded, never refused', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupMonthlyQuota: 3 };
        const reserve = meterRequest(c, { limits, mode: 'reserve', cost: 1 });
        await store.meter(reserve);
        await store.settle(reserve, 7);
        assert.equal((await store.periodUsage(c.groupId, c.appId, billingPeriod(T0, 'UTC'))).groupUsed, 7);
        assert.equal((await store.meter(meterRequest(c, { limits }))).code, 'quota_exceeded');
      });

      test('settling at 0 releases the reservation and records nothing', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupMonthlyQuota: 1 };
        const reserve = meterRequest(c, { limits, mode: 'reserve' });
        await store.meter(reserve);
        assert.equal((await store.meter(meterRequest(c, { limits }))).code, 'quota_exceeded', 'the reservation holds the quota');
        await store.settle(reserve, 0);
        assert.deepEqual(await sum(c.groupId, 'app_id', 'day', DAY, DAY + 86_400_000), []);
        assert.equal((await store.meter(meterRequest(c, { limits }))).allowed, true, 'released');
      });
    });

    describe('ingest', () => {
      const event = (c: { groupId: string; appId: string }, dedupKey: string, over: Record<string, unknown> = {}) => ({
        dedupKey, ts: T0, groupId: c.groupId, appId: c.appId, usageType: 'pdf', requestArgsHash: '', count: 1, ...over,
      });

      test('each id counts once: within a batch, across batches, and after a reopen', async () => {
        const c = await customer();
        const a = uid('evt');
        const b = uid('evt');
        assert.deepEqual(await store.ingest([event(c, a), event(c, b, { count: 4 }), event(c, a)]), ['accepted', 'accepted', 'duplicate']);
        assert.deepEqual(await store.ingest([event(c, b), event(c, uid('evt'))]), ['duplicate', 'accepted']);
        store = await harness.reopen();
        assert.deepEqual(await store.ingest([event(c, a, { count: 100 })]), ['duplicate']);
        assert.equal((await store.periodUsage(c.groupId, c.appId, billingPeriod(T0, 'UTC'))).groupUsed, 6);
      });

      test('ingested usage is never refused but counts toward the quota of later checks', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupMonthlyQuota: 5 };
        assert.equal((await store.meter(meterRequest(c, { limits }))).allowed, true, 'loads the counter');
        assert.deepEqual(await store.ingest([event(c, uid('evt'), { count: 10 })]), ['accepted']);
        const after = await store.meter(meterRequest(c, { limits }));
        assert.equal(after.code, 'quota_exceeded');
        assert.equal(groupUsed(after), 11);
      });

      test('late events land in their own past period, and show in the rollups at once', async () => {
        const c = await customer();
        const lastMonth = Date.parse('2026-02-27T10:00:00Z');
        await store.ingest([event(c, uid('evt'), { ts: lastMonth, count: 3 })]);
        assert.equal((await store.periodUsage(c.groupId, c.appId, billingPeriod(T0, 'UTC'))).groupUsed, 0, 'not in this month');
        assert.equal((await store.periodUsage(c.groupId, c.appId, billingPeriod(lastMonth, 'UTC'))).groupUsed, 3);
        const feb27 = Date.parse('2026-02-27T00:00:00Z');
        assert.deepEqual((await sum(c.groupId, 'usage_type', 'day', feb27, feb27 + 86_400_000)).map((r) => [r.value, r.count]), [['pdf', 3]]);
      });
    });

    describe('rollups', () => {
      test('admitted usage is readable at once, per dimension, with shared values or null', async () => {
        const c = await customer();
        const other = await store.createApp({ id: uid('app'), groupId: c.groupId, name: 'B', monthlyQuota: null, rateLimitPerMinute: null }, T0);
        await store.meter(meterRequest(c, { usageType: 'image', requestArgsHash: 'a'.repeat(40), cost: 3 }));
        await store.meter(meterRequest(c, { usageType: 'image', requestArgsHash: 'a'.repeat(40) }));
        await store.meter(meterRequest({ ...c, appId: other.id }, { usageType: 'pdf', requestArgsHash: '' }));
        for (const level of ['quarter', 'hour', 'day'] as const) {
          const byType = await sum(c.groupId, 'usage_type', level, DAY, DAY + 86_400_000);
          const image = byType.find((r) => r.value === 'image');
          const pdf = byType.find((r) => r.value === 'pdf');
          assert.equal(image?.count, 4, level);
          assert.equal(image?.appId, c.appId);
          assert.equal(image?.requestArgsHash, 'a'.repeat(40));
          assert.equal(pdf?.count, 1);
          assert.equal(pdf?.appId, other.id);
          const byHash = await sum(c.groupId, 'request_args_hash', level, DAY, DAY + 86_400_000);
          assert.equal(byHash.find((r) => r.value === '')?.usageType, 'pdf');
          const byApp = await sum(c.groupId, 'app_id', level, DAY, DAY + 86_400_000);
          assert.equal(byApp.reduce((s, r) => s + r.count, 0), 5);
        }
        await store.meter(meterRequest(c, { usageType: 'image', requestArgsHash: 'b'.repeat(40) }));
        const day = await sum(c.groupId, 'usage_type', 'day', DAY, DAY + 86_400_000);
        assert.equal(day.find((r) => r.value === 'image')?.requestArgsHash, null, 'two hashes: no single value');
        assert.equal(day.find((r) => r.value === 'image')?.appId, c.appId, 'still one app');
      });

      test('usage lands in the bucket that holds its time, and each segment is summed on its own', async () => {
        const c = await customer();
        await store.meter(meterRequest(c, { now: Date.parse('2026-03-15T12:29:59Z') }));
        await store.meter(meterRequest(c, { now: Date.parse('2026-03-15T13:00:00Z'), cost: 2 }));
        const at = (iso: string) => Date.parse(`2026-03-15T${iso}:00Z`);
        const sums = await store.sumRollups({ groupId: c.groupId, dimension: 'app_id', segments: [
          { level: 'quarter', start: at('12:15'), end: at('12:30') },
          { level: 'quarter', start: at('12:30'), end: at('13:00') },
          { level: 'hour', start: at('12:00'), end: at('14:00') },
          { level: 'hour', start: at('13:00'), end: at('14:00') },
          { level: 'day', start: DAY, end: DAY + 86_400_000 },
        ] });
        assert.deepEqual(sums.map((rows) => rows.map((r) => [r.value, r.count])), [
          [[c.appId, 1]], [], [[c.appId, 3]], [[c.appId, 2]], [[c.appId, 3]],
        ]);
      });
    });

    describe('backlog and commit reports', () => {
      test('every admitted call and accepted event is reported in a committed batch; nothing is left queued once acknowledged', async () => {
        const c = await customer();
        const reported = commits.length;
        let busiest = 0;
        let writing = true;
        const watcher = (async () => {
          while (writing) {
            const { queuedWrites, committingWrites } = store.backlog();
            busiest = Math.max(busiest, queuedWrites + committingWrites);
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        const results = await Promise.all(Array.from({ length: 100 }, () => store.meter(meterRequest(c))));
        const events = Array.from({ length: 10 }, () => ({
          dedupKey: uid('evt'), ts: T0, groupId: c.groupId, appId: c.appId, usageType: 'pdf', requestArgsHash: '', count: 1,
        }));
        assert.deepEqual(await store.ingest(events), events.map(() => 'accepted'));
        writing = false;
        await watcher;
        assert.ok(results.every((r) => r.allowed));
        const batches = commits.slice(reported);
        assert.ok(batches.every((b) => b.ok && b.items >= 1 && b.waitedMs >= 0 && b.commitMs >= 0), JSON.stringify(batches));
        assert.equal(batches.reduce((n, b) => n + b.items, 0), 110, 'each write is in exactly one reported batch');
        assert.ok(batches.some((b) => b.items > 1), `concurrent calls share commits: ${batches.map((b) => b.items).join(', ')}`);
        assert.ok(busiest > 0, 'the backlog showed writes while they were under way');
        const backlog = store.backlog();
        assert.deepEqual({ ...backlog, rollupPendingEvents: 0 }, { queuedWrites: 0, committingWrites: 0, rollupPendingEvents: 0, spooledBatches: 0 });
        const deadline = Date.now() + 5_000;
        while (store.backlog().rollupPendingEvents > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(store.backlog().rollupPendingEvents, 0, 'the rollups catch up');
      });
    });

    describe('statements', () => {
      const statement = (groupId: string, period: string, total: number, closedAt = T0): StoredStatement => ({
        groupId, period, start: Date.parse(`${period}-01T00:00:00Z`), end: Date.parse(`${period}-01T00:00:00Z`) + 28 * 86_400_000,
        closedAt, currency: 'USD', total, document: JSON.stringify({ period, total, note: 'é, "quoted"' }),
      });

      test('closing keeps the first statement of a period and answers with it', async () => {
        const c = await customer();
        const first = statement(c.groupId, '2026-01', 100);
        assert.deepEqual(await store.closeStatement(first), first);
        const again = await store.closeStatement(statement(c.groupId, '2026-01', 999, T0 + 5));
        assert.deepEqual(again, first, 'a second close of the same period changes nothing');
        assert.deepEqual(await store.getStatement(c.groupId, '2026-01'), first);
        assert.equal(await store.getStatement(c.groupId, '2026-02'), null);
        assert.equal(await store.getStatement(uid('group'), '2026-01'), null, 'statements belong to their group');
      });

      test('instances closing the same period at once all get the one stored', async () => {
        const c = await customer();
        const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => store.closeStatement(statement(c.groupId, '2026-03', i))));
        const stored = await store.getStatement(c.groupId, '2026-03');
        assert.ok(stored !== null);
        assert.ok(answers.every((a) => a.total === stored.total), `every closer sees total ${stored.total}: ${answers.map((a) => a.total)}`);
      });

      test('listed newest first, by pages; survives a reopen', async () => {
        const c = await customer();
        const periods = ['2025-11', '2025-12', '2026-01', '2026-02', '2026-10'];
        for (const period of periods) await store.closeStatement(statement(c.groupId, period, 1));
        await store.closeStatement(statement((await customer()).groupId, '2026-05', 1));
        store = await harness.reopen();
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listStatements(c.groupId, { limit: 2, ...(after ? { after } : {}) });
          seen.push(...page.items.map((s) => s.period));
          if (page.next === null) break;
          after = page.next;
        }
        assert.deepEqual(seen, [...periods].reverse());
        assert.deepEqual((await store.listStatements(c.groupId, { limit: 1 })).items.map((s) => s.period), ['2026-10']);
        assert.deepEqual((await store.listStatements(uid('group'), { limit: 5 })).items, []);
      });
    });

    describe('ended dashboard sessions', () => {
      test('an ended session is remembered, across a reopen, until the purge of those expired by then; ending twice changes nothing', async () => {
        const [early, late, never] = [uid('sid'), uid('sid'), uid('sid')];
        await store.endedSessions.end(early, T0 + 1_000);
        await store.endedSessions.end(late, T0 + 2_000);
        await store.endedSessions.end(late, T0 + 9_000);
        assert.equal(await store.endedSessions.isEnded(early), true);
        assert.equal(await store.endedSessions.isEnded(late), true);
        assert.equal(await store.endedSessions.isEnded(never), false);
        store = await harness.reopen();
        assert.equal(await store.endedSessions.isEnded(early), true, 'a sign-out survives a restart');
        assert.equal(await store.endedSessions.purge(T0 + 1_000), 0);
        assert.equal(await store.endedSessions.isEnded(early), true, 'kept while its cookie would still open');
        assert.equal(await store.endedSessions.purge(T0 + 1_001), 1);
        assert.equal(await store.endedSessions.isEnded(early), false, 'forgotten once it would have expired anyway');
        assert.equal(await store.endedSessions.isEnded(late), true, 'the first expiry recorded holds: ending again changed nothing');
        assert.equal(await store.endedSessions.purge(T0 + 2_001), 1);
        assert.equal(await store.endedSessions.isEnded(late), false);
      });
    });

    describe('durability', () => {
      test('everything acknowledged is there after a reopen', async () => {
        const c = await customer();
        const limits = { ...UNLIMITED, groupMonthlyQuota: 3 };
        const first = await Promise.all(Array.from({ length: 5 }, (_, i) => store.meter(meterRequest(c, { limits, idempotencyKey: `k${i}` }))));
        // Which three of the five concurrent calls win is the store's business; a winner's key is replayed below.
        const admitted = first.findIndex((r) => r.allowed);
        store = await harness.reopen();
        const usage = await store.periodUsage(c.groupId, c.appId, billingPeriod(T0, 'UTC'));
        assert.deepEqual(usage, { groupUsed: 3, appUsed: 3 });
        assert.equal((await store.meter(meterRequest(c, { limits }))).code, 'quota_exceeded', 'the quota survives a restart');
        const replay = await store.meter(meterRequest(c, { limits, idempotencyKey: `k${admitted}` }));
        assert.equal(replay.replayed, true);
        const rows = await sum(c.groupId, 'app_id', 'day', DAY, DAY + 86_400_000);
        assert.equal(rows.reduce((s, r) => s + r.count, 0), 3);
        assert.ok(await store.findKeyContext('nothing') === null);
      });
    });
  });
}

/** A plan, group, app and key, with fresh ids. */
async function createCustomer(catalog: CatalogStore, timeZone = 'UTC') {
  const planId = uid('plan');
  const groupId = uid('group');
  const appId = uid('app');
  const keyId = uid('key');
  await catalog.createPlan({ id: planId, monthlyQuota: 1000, rateLimitPerMinute: 100, pricePerCall: null, timeZone }, T0);
  await catalog.createGroup({ id: groupId, name: 'G', planId }, T0);
  await catalog.createApp({ id: appId, groupId, name: 'A', monthlyQuota: null, rateLimitPerMinute: null }, T0);
  await catalog.createKey({ id: keyId, appId, name: 'k', hint: 'tg_ab…', secretHash: uid('hash'), createdAt: T0, expiresAt: null });
  return { planId, groupId, appId, keyId };
}

/**
 * The catalogue part of the contract, on its own: what a store's catalogue
 * component must do before the rest of the store exists (the scale-out
 * store's PostgreSQL catalogue runs it alone as well as within the whole suite).
 */
export function catalogueConformance(name: string, open: () => Promise<{ catalog: CatalogStore; destroy(): Promise<void> }>): void {
  describe(`catalogue conformance: ${name}`, () => {
    let harness: { catalog: CatalogStore; destroy(): Promise<void> };
    before(async () => {
      harness = await open();
    });
    after(async () => harness.destroy());
    catalogueTests(() => harness.catalog);
  });
}

function catalogueTests(get: () => CatalogStore): void {
  const customer = (timeZone = 'UTC') => createCustomer(get(), timeZone);
  describe('catalogue', () => {
    let store: CatalogStore;
    before(() => {
      store = get();
    });
    test('plans: create, read, list by pages, update; a taken id conflicts', async () => {
      const ids = [uid('p'), uid('p'), uid('p')].sort();
      for (const id of ids) await store.createPlan({ id, monthlyQuota: 5, rateLimitPerMinute: -1, pricePerCall: '0.01', timeZone: 'Asia/Kolkata' }, T0);
      const plan = await store.getPlan(ids[0]!);
      assert.deepEqual(plan, {
        id: ids[0], monthlyQuota: 5, rateLimitPerMinute: -1, pricePerCall: '0.01', currency: 'USD', prices: [], timeZone: 'Asia/Kolkata',
        limits: [], credits: null, createdAt: T0, updatedAt: T0,
      }, 'currency defaults to USD, prices to none, limits to none, credits to null');
      await assert.rejects(store.createPlan({ id: ids[0]!, monthlyQuota: 1, rateLimitPerMinute: 1, pricePerCall: null, timeZone: 'UTC' }, T0), ConflictError);
      const updated = await store.updatePlan(ids[0]!, { monthlyQuota: 50, pricePerCall: null }, T0 + 1);
      assert.equal(updated.monthlyQuota, 50);
      assert.equal(updated.pricePerCall, null);
      assert.equal(updated.rateLimitPerMinute, -1, 'fields not in the patch keep their value');
      assert.equal(updated.updatedAt, T0 + 1);
      const prices = [
        { usageType: 'image', unitPrice: null, tiers: [{ upTo: 1_000_000, unitPrice: '0.002' }, { upTo: null, unitPrice: '0.0015' }] },
        { usageType: 'pdf', unitPrice: '0.01', tiers: null },
      ];
      const priced = await store.updatePlan(ids[0]!, { currency: 'EUR', prices }, T0 + 2);
      assert.deepEqual([priced.currency, priced.prices], ['EUR', prices]);
      assert.deepEqual(await store.getPlan(ids[0]!), priced, 'prices read back as written');
      const created = await store.createPlan({ id: uid('p'), monthlyQuota: 1, rateLimitPerMinute: 1, pricePerCall: null, timeZone: 'UTC', currency: 'JPY', prices }, T0);
      assert.deepEqual([created.currency, created.prices], ['JPY', prices]);
      await assert.rejects(store.updatePlan(uid('missing'), { monthlyQuota: 1 }, T0), NotFoundError);
      assert.equal(await store.getPlan(uid('missing')), null);

      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.listPlans({ limit: 2, ...(after ? { after } : {}) });
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((p) => p.id));
        if (page.next === null) break;
        after = page.next;
      }
      for (const id of ids) assert.ok(seen.includes(id));
      assert.deepEqual(seen, [...seen].sort(), 'pages come in id order');
      assert.equal(new Set(seen).size, seen.length, 'no item on two pages');
    });

    test('groups and apps need their parent; apps list per group', async () => {
      const c = await customer();
      await assert.rejects(store.createGroup({ id: uid('g'), name: 'x', planId: uid('nope') }, T0), NotFoundError);
      await assert.rejects(store.createApp({ id: uid('a'), groupId: uid('nope'), name: 'x', monthlyQuota: null, rateLimitPerMinute: null }, T0), NotFoundError);
      await assert.rejects(store.createGroup({ id: c.groupId, name: 'x', planId: c.planId }, T0), ConflictError);
      const second = await store.createApp({ id: uid('app'), groupId: c.groupId, name: 'B', monthlyQuota: 10, rateLimitPerMinute: 2 }, T0);
      const apps = await store.listApps(c.groupId, { limit: 10 });
      assert.deepEqual(apps.items.map((a) => a.id).sort(), [c.appId, second.id].sort());
      const patched = await store.updateApp(second.id, { monthlyQuota: null }, T0 + 5);
      assert.equal(patched.monthlyQuota, null);
      assert.equal(patched.rateLimitPerMinute, 2);
      const otherPlan = uid('plan');
      await store.createPlan({ id: otherPlan, monthlyQuota: 1, rateLimitPerMinute: 1, pricePerCall: null, timeZone: 'UTC' }, T0);
      assert.equal((await store.updateGroup(c.groupId, { planId: otherPlan }, T0)).planId, otherPlan);
      await assert.rejects(store.updateGroup(c.groupId, { planId: uid('nope') }, T0), NotFoundError);
    });

    test('keys: found by secret hash with app, group and plan; revocation is kept', async () => {
      const c = await customer('Asia/Kathmandu');
      const hash = uid('secret-hash');
      await store.createKey({ id: uid('key'), appId: c.appId, name: 'mine', hint: 'tg_xy…', secretHash: hash, createdAt: T0, expiresAt: T0 + 1000 });
      const context = await store.findKeyContext(hash);
      assert.ok(context);
      assert.equal(context.app.id, c.appId);
      assert.equal(context.group.id, c.groupId);
      assert.equal(context.plan.id, c.planId);
      assert.equal(context.plan.timeZone, 'Asia/Kathmandu');
      assert.equal(context.key.expiresAt, T0 + 1000);
      assert.equal(context.key.groupId, c.groupId);
      assert.equal(await store.findKeyContext(uid('unknown')), null);

      const revoked = await store.revokeKey(context.key.id, T0 + 10);
      assert.equal(revoked.revokedAt, T0 + 10);
      assert.equal((await store.revokeKey(context.key.id, T0 + 20)).revokedAt, T0 + 10, 'the first revocation time stays');
      assert.equal((await store.findKeyContext(hash))!.key.revokedAt, T0 + 10, 'a lookup after revocation sees it');
      await assert.rejects(store.revokeKey(uid('nope'), T0), NotFoundError);
      const keys = await store.listKeys(c.appId, { limit: 10 });
      assert.equal(keys.items.length, 2);
    });

    test('a plan change reaches key lookups at once', async () => {
      const c = await customer();
      const hash = uid('h');
      await store.createKey({ id: uid('key'), appId: c.appId, name: '', hint: '', secretHash: hash, createdAt: T0, expiresAt: null });
      assert.equal((await store.findKeyContext(hash))!.plan.monthlyQuota, 1000);
      await store.updatePlan(c.planId, { monthlyQuota: 7 }, T0);
      assert.equal((await store.findKeyContext(hash))!.plan.monthlyQuota, 7);
      await store.updatePlan(c.planId, { currency: 'EUR', prices: [{ usageType: 'pdf', unitPrice: '0.5', tiers: null }] }, T0);
      const plan = (await store.findKeyContext(hash))!.plan;
      assert.deepEqual([plan.currency, plan.prices], ['EUR', [{ usageType: 'pdf', unitPrice: '0.5', tiers: null }]], 'the key lookup carries the prices');
    });

    test('named limits, overrides and credits: default to none, read back as written, carried by key lookups', async () => {
      const c = await customer();
      const group = await store.getGroup(c.groupId);
      const app = await store.getApp(c.appId);
      assert.deepEqual([group!.limitOverrides, group!.limits, app!.limitOverrides, app!.limits], [{}, [], {}, []], 'no overrides, no limits of their own');
      const limits = [
        { name: 'images-month', usageTypes: ['image', 'image-async'], window: 'billing_period' as const, units: 50_000, scope: 'group' as const },
        { name: 'burst', usageTypes: null, window: 'second' as const, units: 20, scope: 'key' as const },
      ];
      const credits = { perUnit: { image: 1, '*': 2 }, grantEveryPeriod: { amount: 10_000, rollover: 500 } };
      const plan = await store.updatePlan(c.planId, { limits, credits }, T0 + 1);
      assert.deepEqual([plan.limits, plan.credits, plan.monthlyQuota], [limits, credits, 1000]);
      const groupLimits = [{ name: 'pages-day', usageTypes: ['pdf'], window: 'day' as const, units: 2000, scope: 'group' as const }];
      const patchedGroup = await store.updateGroup(c.groupId, { limitOverrides: { 'images-month': 80_000, burst: null }, limits: groupLimits }, T0 + 2);
      assert.deepEqual([patchedGroup.limitOverrides, patchedGroup.limits, patchedGroup.name], [{ 'images-month': 80_000, burst: null }, groupLimits, group!.name]);
      const appLimits = [{ name: 'tokens-minute', usageTypes: ['llm'], window: 'minute' as const, units: 90_000, scope: 'app' as const }];
      const patchedApp = await store.updateApp(c.appId, { limitOverrides: { month: 5 }, limits: appLimits }, T0 + 3);
      assert.deepEqual([patchedApp.limitOverrides, patchedApp.limits], [{ month: 5 }, appLimits]);
      assert.deepEqual(await store.getApp(c.appId), patchedApp);
      const created = await store.createApp({ id: uid('app'), groupId: c.groupId, name: 'C', monthlyQuota: null, rateLimitPerMinute: null, limits: appLimits }, T0);
      assert.deepEqual([created.limits, created.limitOverrides], [appLimits, {}]);

      const hash = uid('h');
      await store.createKey({ id: uid('key'), appId: c.appId, name: '', hint: '', secretHash: hash, createdAt: T0, expiresAt: null });
      const context = (await store.findKeyContext(hash))!;
      assert.deepEqual([context.plan.limits, context.plan.credits], [limits, credits]);
      assert.deepEqual([context.group.limitOverrides, context.group.limits], [patchedGroup.limitOverrides, groupLimits]);
      assert.deepEqual([context.app.limitOverrides, context.app.limits], [{ month: 5 }, appLimits]);
      assert.equal((await store.updatePlan(c.planId, { credits: null }, T0 + 4)).credits, null, 'credits removed');
    });

    test('service tokens: found by hash, revocable', async () => {
      const hash = uid('svc-hash');
      const token = await store.createServiceToken({ id: uid('svc'), name: 'backend', hint: 'tgs_…', secretHash: hash, createdAt: T0 });
      assert.equal((await store.findServiceToken(hash))!.id, token.id);
      await store.revokeServiceToken(token.id, T0 + 1);
      assert.equal((await store.findServiceToken(hash))!.revokedAt, T0 + 1);
      await assert.rejects(store.revokeServiceToken(uid('nope'), T0), NotFoundError);
    });
  });
}
