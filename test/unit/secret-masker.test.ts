import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newSecret, secretMasker } from '../../src/domain/secrets.js';

test('keys and tokens pasted into a text are masked; ids and short prefixed words are not', () => {
  const mask = secretMasker('pg_api_');
  const key = newSecret('pg_api_');
  const token = newSecret('tgs_');
  assert.equal(mask(`No key with id "${key}".`), 'No key with id "pg_api_[redacted]".');
  assert.equal(mask(`/admin/keys/${token}/x`), '/admin/keys/tgs_[redacted]/x');
  assert.equal(mask(`No route for GET /v1/${newSecret('tga_')}`), 'No route for GET /v1/tga_[redacted]');
  for (const plain of ['No key with id "key_9ihNdD1LX3z9XN".', 'usage_type "tg_image"', 'pg_api_short', 'No plan with id "starter".']) {
    assert.equal(mask(plain), plain);
  }
});
