import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommitter } from '../../src/store/sqlite/group-commit.js';

test('calls submitted in one turn of the event loop share one commit', async () => {
  const batches: number[][] = [];
  const committer = new GroupCommitter<number, string>((items) => {
    batches.push(items);
    return items.map((i) => `ok-${i}`);
  });
  const results = await Promise.all([1, 2, 3, 4, 5].map((i) => committer.submit(i)));
  assert.deepEqual(results, ['ok-1', 'ok-2', 'ok-3', 'ok-4', 'ok-5']);
  assert.deepEqual(batches, [[1, 2, 3, 4, 5]]);
  await committer.submit(6);
  assert.deepEqual(batches, [[1, 2, 3, 4, 5], [6]]);
});

test('no caller hears back before its commit ran', async () => {
  let committed = false;
  const committer = new GroupCommitter<number, number>((items) => {
    committed = true;
    return items;
  });
  const pending = committer.submit(1).then(() => committed);
  assert.equal(committed, false);
  assert.equal(await pending, true);
});

test('a failed commit fails every caller in its batch, and the next batch still commits', async () => {
  let fail = true;
  const committer = new GroupCommitter<number, number>((items) => {
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
  const committer = new GroupCommitter<number, number>((items) => {
    sizes.push(items.length);
    return items;
  }, 4);
  await Promise.all(Array.from({ length: 10 }, (_, i) => committer.submit(i)));
  assert.deepEqual(sizes, [4, 4, 2]);
});
