import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LookupMemo } from '../../src/store/lookup-memo.js';
import { CatalogCache } from '../../src/store/scale-out/catalog-cache.js';

test('a flood of unknown keys never pushes the known ones out of the memo, which never grows past its limits', () => {
  const memo = new LookupMemo<string | null>(10, (v) => v === null);
  for (let i = 0; i < 4; i++) memo.set(`known-${i}`, `context-${i}`);
  for (let i = 0; i < 1_000; i++) {
    memo.set(`guess-${i}`, null);
    assert.ok(memo.size <= 20);
  }
  for (let i = 0; i < 4; i++) assert.equal(memo.get(`known-${i}`), `context-${i}`);
  assert.equal(memo.get('guess-999'), null, 'a recent miss is remembered: the same bad key again costs no query');
  assert.equal(memo.get('never-seen'), undefined);
  memo.set('guess-999', 'created since');
  assert.equal(memo.get('guess-999'), 'created since', 'a key found after a miss is a hit');
  memo.clear();
  assert.equal(memo.size, 0);
});

test('the scale-out catalogue cache keeps a valid key through 120,000 lookups of wrong ones: no query for it again', async () => {
  const cache = new CatalogCache(60_000, () => 0);
  let loads = 0;
  const valid = () => cache.get('key', 'valid-hash', async () => {
    loads += 1;
    return { key: 'context' };
  });
  await valid();
  for (let i = 0; i < 120_000; i++) await cache.get('key', `wrong-${i}`, async () => null);
  assert.deepEqual(await valid(), { key: 'context' });
  assert.equal(loads, 1);
});
