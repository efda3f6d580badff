import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommitter } from '../../src/engine/group-commit.js';

/** A commit whose completion the test controls, like an fsync that takes a while. */
function slowCommit() {
  const batches: number[][] = [];
  const finish: Array<() => void> = [];
  const commit = (items: number[]) => {
    batches.push(items);
    return new Promise<number[]>((resolve) => finish.push(() => resolve(items.map((i) => i * 10))));
  };
  return { batches, finish, commit };
}

const tick = () => new Promise((r) => setImmediate(r));

test('calls submitted in one turn of the event loop share one commit', async () => {
  const batches: number[][] = [];
  const committer = new GroupCommitter<number, string>(async (items) => {
    batches.push(items);
    return items.map((i) => `ok-${i}`);
  });
  const results = await Promise.all([1, 2, 3, 4, 5].map((i) => committer.submit(i)));
  assert.deepEqual(results, ['ok-1', 'ok-2', 'ok-3', 'ok-4', 'ok-5']);
  assert.deepEqual(batches, [[1, 2, 3, 4, 5]]);
});

test('calls that arrive while a commit is under way form the next batch, committed right after', async () => {
  const slow = slowCommit();
  const committer = new GroupCommitter<number, number>(slow.commit);
  const first = committer.submit(1);
  await tick();
  assert.deepEqual(slow.batches, [[1]]);
  const later = [committer.submit(2), committer.submit(3)];
  await tick();
  assert.deepEqual(slow.batches, [[1]], 'one batch at a time');
  slow.finish[0]!();
  assert.equal(await first, 10);
  await tick();
  assert.deepEqual(slow.batches, [[1], [2, 3]]);
  slow.finish[1]!();
  assert.deepEqual(await Promise.all(later), [20, 30]);
});

test('no caller hears back before its commit finished', async () => {
  const slow = slowCommit();
  const committer = new GroupCommitter<number, number>(slow.commit);
  let answered = false;
  const pending = committer.submit(1).then(() => { answered = true; });
  await tick();
  await tick();
  assert.equal(answered, false);
  slow.finish[0]!();
  await pending;
  assert.equal(answered, true);
});

test('a failed commit fails every caller in its batch, and the next batch still commits', async () => {
  let fail = true;
  const committer = new GroupCommitter<number, number>(async (items) => {
    if (fail) throw new Error('disk full');
    return items;
  });
  const outcomes = await Promise.allSettled([committer.submit(1), committer.submit(2)]);
  assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
  fail = false;
  assert.equal(await committer.submit(3), 3);
});

test('large queues are committed in slices of maxBatch', async () => {
  const sizes: number[] = [];
  const committer = new GroupCommitter<number, number>(async (items) => {
    sizes.push(items.length);
    return items;
  }, 4);
  await Promise.all(Array.from({ length: 10 }, (_, i) => committer.submit(i)));
  assert.deepEqual(sizes, [4, 4, 2]);
});

test('drain waits for what was submitted before it, not for what comes after', async () => {
  const slow = slowCommit();
  const committer = new GroupCommitter<number, number>(slow.commit);
  void committer.submit(1);
  let drained = false;
  const draining = committer.drain().then(() => { drained = true; });
  await tick();
  void committer.submit(2);
  assert.equal(drained, false);
  slow.finish[0]!();
  await draining;
  assert.equal(drained, true);
  assert.equal(committer.pending + slow.batches.length, 2, 'the later call is still on its way');
  await tick();
  slow.finish[1]!();
  await committer.drain();
});

test('submitMany: one promise for many items, and a submission is never split across transactions', async () => {
  const batches: number[][] = [];
  const committer = new GroupCommitter<number, number>(async (items) => {
    batches.push(items);
    return items.map((i) => -i);
  }, 4);
  const [a, b] = await Promise.all([committer.submitMany([1, 2, 3]), committer.submitMany([4, 5, 6])]);
  assert.deepEqual(a, [-1, -2, -3]);
  assert.deepEqual(b, [-4, -5, -6]);
  assert.deepEqual(batches, [[1, 2, 3], [4, 5, 6]], 'a batch holds whole submissions');
  assert.deepEqual(await committer.submitMany([]), []);
});

test('with maxInFlight 2 the next batch is handed over while the first commits, and results stay in order', async () => {
  const slow = slowCommit();
  const committer = new GroupCommitter<number, number>(slow.commit, 10_000, 2);
  const first = committer.submit(1);
  await tick();
  const second = committer.submit(2);
  await tick();
  assert.deepEqual(slow.batches, [[1], [2]], 'the second batch did not wait for the first to finish');
  const third = committer.submit(3);
  await tick();
  assert.deepEqual(slow.batches, [[1], [2]], 'never more than two at once');
  slow.finish[0]!();
  slow.finish[1]!();
  assert.deepEqual(await Promise.all([first, second]), [10, 20]);
  await tick();
  assert.deepEqual(slow.batches, [[1], [2], [3]]);
  slow.finish[2]!();
  assert.equal(await third, 30);
  await committer.drain();
});

test('the observer hears of every batch: its size, how long its oldest item queued, the commit time, and failures', async () => {
  const reports: Array<{ items: number; waitedMs: number; commitMs: number; ok: boolean }> = [];
  const slow = slowCommit();
  let failNext = false;
  const committer = new GroupCommitter<number, number>(async (items) => {
    if (failNext) throw new Error('disk full');
    return slow.commit(items);
  }, 10_000, 1, { batchCommitted: (report) => reports.push(report) });
  const first = committer.submit(1);
  await tick();
  assert.equal(committer.committing, 1);
  const queued = [committer.submit(2), committer.submit(3)];
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual([committer.pending, committer.committing], [2, 1], 'two items queue behind the one being committed');
  slow.finish[0]!();
  await first;
  await tick();
  slow.finish[1]!();
  await Promise.all(queued);
  assert.equal(committer.committing, 0);
  assert.deepEqual(reports.map((r) => [r.items, r.ok]), [[1, true], [2, true]]);
  assert.ok(reports[0]!.commitMs >= 25, `the first commit took the 30 ms the test held it, got ${reports[0]!.commitMs}`);
  assert.ok(reports[1]!.waitedMs >= 25, `the second batch queued while the first was committed, got ${reports[1]!.waitedMs}`);
  failNext = true;
  await assert.rejects(committer.submit(4), /disk full/);
  assert.deepEqual(reports.map((r) => [r.items, r.ok]), [[1, true], [2, true], [1, false]]);
});
