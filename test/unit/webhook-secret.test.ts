import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { endpointSigningSecret, resolveWebhookSecret, signatureHeaders } from '../../src/alerts/signing.js';
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
  assert.equal(endpointSigningSecret('s'.repeat(32), 'whe_1'), 'whsec_4D+yVBpY8IZIAOeOwXYxfcKfKWSE7VhigLpckQDfl74=');
  assert.equal(signatureHeaders('whsec_test', 'dlv_1', 1_700_000_000, '{"a":1}')['tollgate-signature'], 't=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789');
});

test('signing secrets are Standard Webhooks secrets: whsec_ and the base64 of 32 key bytes', () => {
  const secret = endpointSigningSecret('s'.repeat(32), 'whe_1');
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(secret.slice('whsec_'.length), 'base64').length, 32);
});

test("webhook-signature: the Standard Webhooks specification's own example, and the standardwebhooks library's signature", () => {
  // The example of the specification (and of every Standard Webhooks library's tests).
  const example = signatureHeaders('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1_614_265_330, '{"test": 2432232314}');
  assert.deepEqual(
    { id: example['webhook-id'], timestamp: example['webhook-timestamp'], signature: example['webhook-signature'] },
    { id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: '1614265330', signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' },
  );
  const secret = endpointSigningSecret('s'.repeat(32), 'whe_1');
  const body = '{"id":"alt_1","type":"quota_threshold","data":{"monthly_used":80}}';
  assert.equal(signatureHeaders(secret, 'dlv_1', 1_700_000_000, body)['webhook-signature'], new Webhook(secret).sign('dlv_1', new Date(1_700_000_000_000), body));
});
