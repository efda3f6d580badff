import { hashSecret, newId, newSecret } from '../domain/secrets.js';
import { ConflictError } from '../errors.js';
import { secretHint } from '../http/routes/admin-keys.js';
import type { Services } from '../services.js';

export const DEMO = { planId: 'demo', groupId: 'demo-group', appId: 'demo-app' } as const;

async function ignoreConflict(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
}

/**
 * Creates (or reuses) a demo plan, group and app, issues a new key, and
 * returns ready-to-paste curl commands for both seed endpoints and the check API.
 */
export async function createDemo(services: Services, url: string): Promise<string[]> {
  const { store, clock, config } = services;
  const now = clock.now();
  await ignoreConflict(() => store.createPlan({ id: DEMO.planId, monthlyQuota: 1000, rateLimitPerMinute: 60, pricePerCall: '0.01', timeZone: 'UTC' }, now));
  await ignoreConflict(() => store.createGroup({ id: DEMO.groupId, name: 'Demo customer', planId: DEMO.planId }, now));
  await ignoreConflict(() => store.createApp({ id: DEMO.appId, groupId: DEMO.groupId, name: 'Demo app', monthlyQuota: null, rateLimitPerMinute: null }, now));
  const secret = newSecret(config.keyPrefix);
  await store.createKey({
    id: newId('key'), appId: DEMO.appId, name: 'demo', hint: secretHint(secret, config.keyPrefix),
    secretHash: hashSecret(secret), createdAt: now, expiresAt: null,
  });
  const today = new Date(now);
  const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)).toISOString();
  const to = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 1, 1)).toISOString();
  const token = config.adminToken === undefined ? '$TOLLGATE_ADMIN_TOKEN' : '<admin token>';
  return [
    '',
    `Demo: plan "${DEMO.planId}" (1000 calls a month, 60 a minute), group "${DEMO.groupId}", app "${DEMO.appId}".`,
    `Demo key (shown this once): ${secret}`,
    '',
    '# Meter a call (the provider backend, with the admin token):',
    `curl -s -X POST '${url}/v1/check' -H "Authorization: Bearer ${token}" -H 'Content-Type: application/json' \\`,
    `  -d '{"key": "${secret}", "usage_type": "image", "request_args": {"formats": ["text"]}}'`,
    '',
    '# Paperguide-style current usage:',
    `curl -s '${url}/v1/usage' -H 'Content-Type: application/json' -H 'x-api-key: ${secret}'`,
    '',
    '# Mathpix-style usage over time:',
    `curl -s '${url}/v3/ocr-usage?from_date=${encodeURIComponent(from)}&to_date=${encodeURIComponent(to)}&group_by=usage_type&timespan=month' \\`,
    `  -H 'app_id: ${DEMO.appId}' -H 'app_key: ${secret}'`,
  ];
}
