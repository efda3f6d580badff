import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerToken, credentialSecret, credentialsFromCheckBody, credentialsFromHeaders } from '../../src/metering/credentials.js';

test("a check's body names the customer by key, or else by app id and key together", () => {
  assert.deepEqual(credentialsFromCheckBody({ key: 'tg_a' }), { key: 'tg_a' });
  assert.deepEqual(credentialsFromCheckBody({ key: 'tg_a', app_id: 'ocr', app_key: 'tg_b' }), { key: 'tg_a' }, 'key wins when both are sent');
  assert.deepEqual(credentialsFromCheckBody({ app_id: 'ocr', app_key: 'tg_b' }), { appId: 'ocr', appKey: 'tg_b' });
  assert.equal(credentialsFromCheckBody({ app_id: 'ocr' }), null);
  assert.equal(credentialsFromCheckBody({ app_key: 'tg_b' }), null);
  assert.equal(credentialsFromCheckBody({}), null);
});

test('the secret of either style of credentials is the key', () => {
  assert.equal(credentialSecret({ key: 'tg_a' }), 'tg_a');
  assert.equal(credentialSecret({ appId: 'ocr', appKey: 'tg_b' }), 'tg_b');
  assert.equal(credentialSecret(credentialsFromHeaders({ app_id: 'ocr', app_key: 'tg_c' })!), 'tg_c');
});

test('a bearer token is the one word after "Bearer", in any case; anything else is none', () => {
  assert.equal(bearerToken('Bearer tga_x'), 'tga_x');
  assert.equal(bearerToken('bearer   tga_x  '), 'tga_x');
  for (const header of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'tga_x', ['Bearer tga_x']]) assert.equal(bearerToken(header), null, String(header));
});
