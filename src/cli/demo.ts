import { hashSecret, newId, newSecret } from '../domain/secrets.js';
import type { Key } from '../domain/types.js';
import { ConflictError } from '../errors.js';
import { secretHint } from '../http/routes/admin-keys.js';
import type { Services } from '../services.js';
import type { Page, Store } from '../store/store.js';
import { DEMO, demoLines } from './demo-text.js';

async function ignoreConflict(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
}

/**
 * Creates (or reuses) a demo plan, group and app, replaces the demo key (see
 * DEMO), and returns ready-to-paste curl commands for both seed endpoints and
 * the check API; `adminToken` is what the commands show for the admin token.
 */
export async function createDemo(services: Services, url: string, adminToken: string): Promise<string[]> {
  const { store, clock, config } = services;
  const now = clock.now();
  await ignoreConflict(() => store.createPlan({ id: DEMO.planId, monthlyQuota: DEMO.monthlyQuota, rateLimitPerMinute: DEMO.ratePerMinute, pricePerCall: DEMO.pricePerCall, timeZone: 'UTC' }, now));
  await ignoreConflict(() => store.createGroup({ id: DEMO.groupId, name: 'Demo customer', planId: DEMO.planId }, now));
  await ignoreConflict(() => store.createApp({ id: DEMO.appId, groupId: DEMO.groupId, name: 'Demo app', monthlyQuota: null, rateLimitPerMinute: null }, now));
  const revoked = await revokeDemoKeys(store, now);
  const secret = newSecret(config.keyPrefix);
  await store.createKey({
    id: newId('key'), appId: DEMO.appId, name: DEMO.keyName, hint: secretHint(secret, config.keyPrefix),
    secretHash: hashSecret(secret), createdAt: now, expiresAt: null,
  });
  return ['', ...demoLines(url, secret, adminToken, new Date(now), revoked)];
}

/** Revokes the live demo keys (see DEMO) and returns their hints. */
async function revokeDemoKeys(store: Store, now: number): Promise<string[]> {
  const live: Key[] = [];
  let after: string | null = null;
  do {
    const page: Page<Key> = await store.listKeys(DEMO.appId, after === null ? { limit: 1000 } : { limit: 1000, after });
    live.push(...page.items.filter((key) => key.name === DEMO.keyName && key.revokedAt === null));
    after = page.next;
  } while (after !== null);
  for (const key of live) await store.revokeKey(key.id, now);
  return live.map((key) => key.hint);
}
