import { createHmac, hkdfSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { base58, newSecret } from '../domain/secrets.js';

export const WEBHOOK_SECRET_FILE = 'webhook-secret';

export interface WebhookSecret {
  /** The server secret; never printed, logged or stored in the database. */
  value: string;
  source: 'environment' | 'data directory' | 'generated';
}

/**
 * The server secret webhook signing secrets are derived from: from
 * TOLLGATE_WEBHOOK_SECRET, or from the data directory, or newly generated
 * there (mode 0600). Unlike the admin token it is kept itself, not a hash:
 * signing needs it.
 */
export function resolveWebhookSecret(config: Config): WebhookSecret {
  if (config.webhookSecret !== undefined) return { value: config.webhookSecret, source: 'environment' };
  const file = join(config.dataDir, WEBHOOK_SECRET_FILE);
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), source: 'data directory' };
  mkdirSync(config.dataDir, { recursive: true });
  const value = newSecret('tgw_');
  // wx: of two processes racing on a fresh directory, the second fails rather than overwriting a secret already in use.
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return { value, source: 'generated' };
}

/**
 * An endpoint's signing secret, derived (HKDF-SHA256) from the server
 * secret and the endpoint's id: the database holds nothing that signs, and
 * every instance with the same server secret derives the same one.
 */
export function endpointSigningSecret(serverSecret: string, endpointId: string): string {
  return `whsec_${base58(new Uint8Array(hkdfSync('sha256', serverSecret, 'tollgate webhook endpoint', endpointId, 32)))}`;
}

/**
 * The `Tollgate-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>" keyed with the endpoint's signing secret>`, as Stripe signs.
 * The timestamp inside the signed text lets receivers refuse old replays.
 */
export function signatureHeader(signingSecret: string, unixSeconds: number, body: string): string {
  const v1 = createHmac('sha256', signingSecret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}
