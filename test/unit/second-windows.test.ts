import assert from 'node:assert/strict';
import { test } from 'node:test';
import { secondWindows } from '../helpers/second-windows.js';

// The reading of "at most N in any second" that the scale-out exactness test applies to recorded events.

const at = (t: number, times: number) => Array.from({ length: times }, () => t);

test('per clock second and per sliding window: 20 at once, then half a second later the half of them that slid out', () => {
  const full = secondWindows([...at(1_000, 20), ...at(2_500, 10)], 1_000);
  assert.deepEqual(full.perWindow, [20, 10]);
  assert.equal(full.maxPerWindow, 20);
  assert.equal(full.maxSliding, 20, '20 x (1 - 0.5) + 10');
});

test('one more than the sliding window holds is seen, though each clock second holds fewer than 20', () => {
  const over = secondWindows([...at(1_900, 15), ...at(2_100, 15)], 1_000);
  assert.equal(over.maxPerWindow, 15);
  assert.equal(over.maxSliding, 15 * 0.9 + 15);
});

test('empty seconds between admissions are counted as seconds, and weigh nothing', () => {
  const gap = secondWindows([0, 3_999], 1_000);
  assert.deepEqual(gap.perWindow, [1, 0, 0, 1]);
  assert.equal(gap.maxSliding, 1);
});
