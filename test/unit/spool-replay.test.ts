import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import type { PendingWrite } from '../../src/engine/pending-write.js';
import type { PgUsage } from '../../src/store/postgres/pg-usage.js';
import type { Spool } from '../../src/store/scale-out/spool.js';
import { SpoolReplay } from '../../src/store/scale-out/spool-replay.js';
import { ManualScheduler } from '../../src/scheduler.js';

const ITEM: PendingWrite = { ts: 0, groupId: 'g', appId: 'a', keyId: null, usageType: 'image', requestArgsHash: '', count: 1 };

/** A spool of `batches` batches, and PostgreSQL that answers only while `up` (away: the pool's connection error). */
function harness(batches: number) {
  const database = { up: false, written: 0, failNext: null as Error | null };
  let pending = batches;
  const spool = {
    get pending() {
      return pending;
    },
    async replay(write: (items: PendingWrite[], at: number, xid?: string) => Promise<unknown>) {
      while (pending > 0) {
        await write([ITEM], 0);
        pending -= 1;
      }
      return 0;
    },
  } as unknown as Spool;
  const usage = {
    async write() {
      const failure = database.failNext;
      database.failNext = null;
      if (failure !== null) throw failure;
      if (!database.up) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      database.written += 1;
      return { seqs: [database.written], xid: '1' };
    },
  } as unknown as PgUsage;
  const scheduler = new ManualScheduler(new ManualClock(0));
  return { database, scheduler, replay: new SpoolReplay(spool, usage, scheduler) };
}

/** Lets the replay loop run on after the scheduler resumed it (its writes are promises). */
const settle = () => new Promise((resolve) => setImmediate(resolve));
const outcome = (promise: Promise<void>) => promise.then(() => 'caught up', (error: Error) => `rejected: ${error.message}`);

test('caughtUp: at once when nothing is spooled; rejected with the outage while PostgreSQL is away, resolved once the spool is in', async () => {
  const idle = harness(0);
  idle.replay.start();
  assert.equal(await outcome(idle.replay.caughtUp()), 'caught up');

  const { database, scheduler, replay } = harness(3);
  // A seed that began waiting before the first attempt failed is told of the outage, not held until PostgreSQL is back.
  const early = outcome(replay.caughtUp());
  replay.start();
  const waiting = outcome(replay.caughtUp());
  assert.equal(await waiting, 'rejected: connect ECONNREFUSED 127.0.0.1:5432');
  assert.equal(await early, 'caught up', 'nothing was being replayed when it asked');
  // While the attempts keep failing, a later caller is told at once.
  await scheduler.advance(500);
  await settle();
  assert.equal(await outcome(replay.caughtUp()), 'rejected: connect ECONNREFUSED 127.0.0.1:5432');

  database.up = true;
  const after = outcome(replay.caughtUp());
  assert.equal(await after, 'rejected: connect ECONNREFUSED 127.0.0.1:5432', 'the last attempt still found it away');
  await scheduler.advance(500);
  await settle();
  assert.equal(await outcome(replay.caughtUp()), 'caught up');
  assert.equal(database.written, 3, 'every spooled batch written once');
});

test('caughtUp waits for a replay under way whose attempts fail for no outage (a transaction still in progress)', async () => {
  const { database, scheduler, replay } = harness(1);
  database.up = true;
  database.failNext = new Error('transaction 7 is still in progress');
  replay.start();
  let settled = false;
  const waiting = outcome(replay.caughtUp()).finally(() => {
    settled = true;
  });
  await settle();
  assert.equal(settled, false, 'still waiting after the failed attempt');
  await scheduler.advance(500);
  assert.equal(await waiting, 'caught up');
  assert.equal(database.written, 1);
});
