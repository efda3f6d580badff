import { createHmac, hkdfSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { newSecret } from '../domain/secrets.js';

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
 * every instance with the same server secret derives the same one. Written
 * as Standard Webhooks secrets are, `whsec_` and the base64 of the 32 key
 * bytes, so that their libraries take it as it is.
 */
export function endpointSigningSecret(serverSecret: string, endpointId: string): string {
  return `${SECRET_PREFIX}${Buffer.from(hkdfSync('sha256', serverSecret, 'tollgate webhook endpoint', endpointId, 32)).toString('base64')}`;
}

const SECRET_PREFIX = 'whsec_';

/**
 * Every signature header of one attempt at a delivery, over the exact bytes
 * sent as the body:
 *
 * - Standard Webhooks (standardwebhooks.com): `webhook-id` (the delivery's
 *   id, the same on every retry: what receivers deduplicate on),
 *   `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64
 *   HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the bytes the
 *   secret's base64 part encodes;
 * - `Tollgate-Signature: t=<timestamp>,v1=<hex HMAC-SHA256 of
 *   "<timestamp>.<body>">`, keyed with the whole secret string as Stripe's
 *   libraries key theirs, for receivers written against that scheme.
 *
 * The timestamp is inside both signed texts, so receivers can refuse old replays.
 */
export function signatureHeaders(signingSecret: string, deliveryId: string, unixSeconds: number, body: string): Record<string, string> {
  const key = Buffer.from(signingSecret.slice(SECRET_PREFIX.length), 'base64');
  const standard = createHmac('sha256', key).update(`${deliveryId}.${unixSeconds}.${body}`).digest('base64');
  return {
    'webhook-id': deliveryId,
    'webhook-timestamp': String(unixSeconds),
    'webhook-signature': `v1,${standard}`,
    'tollgate-signature': `t=${unixSeconds},v1=${createHmac('sha256', signingSecret).update(`${unixSeconds}.${body}`).digest('hex')}`,
  };
}
