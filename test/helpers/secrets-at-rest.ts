import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { adminClient, request } from './server.js';

export interface IssuedSecrets {
  /** Every secret the run issued or sent, by name. */
  secrets: Record<string, string>;
  /** SHA-256 hex of a customer key: what the store does keep, to show the bytes searched are the right ones. */
  keyHash: string;
}

/**
 * Issues every kind of secret through the API of the server at `url` and
 * uses each: customer keys (one revoked), service tokens (one revoked), a
 * webhook endpoint's signing secret; checks, idempotent checks, events,
 * usage queries, and failed attempts with made-up credentials.
 */
export async function issueAndUseSecrets(url: string, adminToken: string): Promise<IssuedSecrets> {
  const admin = adminClient(url, adminToken);
  const ok = <T extends { status: number; body: any }>(res: T, status = 201): T => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    return res;
  };
  ok(await admin.post('/admin/plans', { id: 'rest-plan', monthly_quota: 1000, rate_limit_per_minute: 1000, price_per_call: '0.01' }));
  ok(await admin.post('/admin/groups', { id: 'rest-group', name: 'At rest', plan_id: 'rest-plan' }));
  ok(await admin.post('/admin/groups/rest-group/apps', { id: 'rest-app' }));
  const key = ok(await admin.post('/admin/apps/rest-app/keys', { name: 'kept' })).body.key as string;
  const revoked = ok(await admin.post('/admin/apps/rest-app/keys', { name: 'revoked', expires_at: new Date(Date.now() + 3 * 86_400_000).toISOString() })).body;
  ok(await admin.delete(`/admin/keys/${revoked.key_id}`), 200);
  const serviceToken = ok(await admin.post('/admin/service-tokens', { name: 'backend' })).body.token as string;
  const revokedToken = ok(await admin.post('/admin/service-tokens', { name: 'old backend' })).body;
  ok(await admin.delete(`/admin/service-tokens/${revokedToken.token_id}`), 200);
  const webhook = ok(await admin.post('/admin/webhooks', { url: 'http://127.0.0.1:9/hook', group_ids: ['rest-group'] })).body;
  assert.equal(typeof webhook.secret, 'string');

  const check = (token: string, body: object) => request(`${url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: { usage_type: 'image', ...body } });
  assert.equal((await check(serviceToken, { key, request_args: { lang: 'en' } })).body.allowed, true);
  assert.equal((await check(serviceToken, { app_id: 'rest-app', app_key: key, idempotency_key: 'job-1' })).body.allowed, true);
  assert.equal((await check(adminToken, { key, idempotency_key: 'job-1' })).body.replayed, true);
  const events = await request(`${url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${serviceToken}` }, body: [{ id: 'rest-evt', app_id: 'rest-app', usage_type: 'pdf', count: 3 }] });
  assert.equal(events.body.accepted, 1);
  assert.equal((await request(`${url}/v1/usage`, { headers: { 'x-api-key': key } })).status, 200);
  assert.equal((await request(`${url}/v3/ocr-usage`, { headers: { app_id: 'rest-app', app_key: key } })).status, 200);

  // Made-up credentials, refused: not kept either.
  const guessedKey = 'tg_GuessedKeyThatIsNotStored0123456789';
  const guessedToken = 'guessed-token-that-is-not-stored-0123';
  assert.equal((await check(serviceToken, { key: guessedKey })).body.code, 'unauthorized');
  assert.equal((await check(guessedToken, { key })).status, 401);
  assert.equal((await check(serviceToken, { key: revoked.key })).body.code, 'unauthorized');
  assert.equal((await check(revokedToken.token, { key })).status, 401);

  return {
    secrets: {
      adminToken, key, revokedKey: revoked.key, serviceToken, revokedServiceToken: revokedToken.token,
      webhookSigningSecret: webhook.secret, guessedKey, guessedToken,
    },
    keyHash: createHash('sha256').update(key).digest('hex'),
  };
}

/** Fails naming the secret and the place when any secret appears in `text`. */
export function assertNoSecret(text: string, secrets: Record<string, string>, where: string): void {
  for (const [name, secret] of Object.entries(secrets)) assert.ok(!text.includes(secret), `${name} is stored in clear in ${where}`);
}

/** Every file under `dir`, as bytes read as latin1 (a secret in ASCII shows as itself), by path. */
export function filesUnder(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) for (const [p, text] of filesUnder(path)) files.set(p, text);
    else files.set(path, readFileSync(path).toString('latin1'));
  }
  return files;
}
