import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { endpointSigningSecret, resolveWebhookSecret, signatureHeader } from '../../src/alerts/signing.js';
import { loadConfig } from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-webhook-secret-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the server secret: generated once into the data directory (0600), then read back; the setting wins', () => {
  const config = loadConfig({}, { dataDir: dir });
  const generated = resolveWebhookSecret(config);
  assert.equal(generated.source, 'generated');
  assert.equal(statSync(join(dir, 'webhook-secret')).mode & 0o777, 0o600);
  assert.deepEqual(resolveWebhookSecret(config), { value: generated.value, source: 'data directory' });
  const fromEnv = resolveWebhookSecret(loadConfig({ TOLLGATE_WEBHOOK_SECRET: 's'.repeat(32) }, { dataDir: dir }));
  assert.deepEqual(fromEnv, { value: 's'.repeat(32), source: 'environment' });
});

test('signing secrets: one per endpoint, the same for the same server secret, another for another', () => {
  const a = endpointSigningSecret('s'.repeat(32), 'whe_1');
  assert.equal(endpointSigningSecret('s'.repeat(32), 'whe_1'), a);
  assert.notEqual(endpointSigningSecret('s'.repeat(32), 'whe_2'), a);
  assert.notEqual(endpointSigningSecret('t'.repeat(32), 'whe_1'), a);
  // Known answers, so that a change of derivation or signature (which would break every receiver) cannot pass unnoticed.
  assert.equal(endpointSigningSecret('s'.repeat(32), 'whe_1'), 'whsec_G6NfA9P6hEc2c7UxMQ2cyY76spoH9SHU5QBhLkB6dDWD');
  assert.equal(signatureHeader('whsec_test', 1_700_000_000, '{"a":1}'), 't=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789');
});
