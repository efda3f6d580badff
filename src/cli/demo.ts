import type { AdminApi } from '../client/admin.js';
import { TollgateError } from '../client/errors.js';
import { ConflictError } from '../domain/errors.js';
import { issueKey } from '../metering/keys.js';
import type { Services } from '../services.js';
import { DEMO, demoLines } from './demo-text.js';

/**
 * What seeding the demo needs of the catalogue, whichever way it is reached:
 * the store itself (`serve --demo`), or the admin API (`adminApiDemoCatalog`,
 * for a client of a running server).
 */
export interface DemoCatalog {
  createPlan(plan: { id: string; monthlyQuota: number; rateLimitPerMinute: number; pricePerCall: string; timeZone: string }): Promise<unknown>;
  createGroup(group: { id: string; name: string; planId: string }): Promise<unknown>;
  createApp(app: { id: string; groupId: string; name: string }): Promise<unknown>;
  /** Every key of the app, revoked ones included. */
  keys(appId: string): Promise<Array<{ id: string; name: string; hint: string; revoked: boolean }>>;
  revokeKey(id: string): Promise<unknown>;
  /** Issues a key: its secret, and the key as the catalogue answered it. */
  createKey(appId: string, name: string): Promise<{ secret: string; created: unknown }>;
  /** Whether a create was refused because an item of that id exists already. */
  isConflict(error: unknown): boolean;
}

/**
 * Creates the demo plan, group and app (or reuses them, with their usage),
 * revokes the live demo keys and issues a new one (see DEMO): the new key's
 * secret and the key as the catalogue answered it, and the hints of the keys
 * revoked.
 */
export async function seedDemo(catalog: DemoCatalog): Promise<{ secret: string; created: unknown; revoked: string[] }> {
  const reuse = async (create: () => Promise<unknown>) => {
    try {
      await create();
    } catch (error) {
      if (!catalog.isConflict(error)) throw error;
    }
  };
  await reuse(() => catalog.createPlan({ id: DEMO.planId, monthlyQuota: DEMO.monthlyQuota, rateLimitPerMinute: DEMO.ratePerMinute, pricePerCall: DEMO.pricePerCall, timeZone: 'UTC' }));
  await reuse(() => catalog.createGroup({ id: DEMO.groupId, name: 'Demo customer', planId: DEMO.planId }));
  await reuse(() => catalog.createApp({ id: DEMO.appId, groupId: DEMO.groupId, name: 'Demo app' }));
  const live = (await catalog.keys(DEMO.appId)).filter((key) => key.name === DEMO.keyName && !key.revoked);
  for (const key of live) await catalog.revokeKey(key.id);
  return { ...await catalog.createKey(DEMO.appId, DEMO.keyName), revoked: live.map((key) => key.hint) };
}

/** The demo catalogue on the store of a server in this process. */
export function storeDemoCatalog({ store, clock, config }: Pick<Services, 'store' | 'clock' | 'config'>): DemoCatalog {
  return {
    createPlan: (plan) => store.createPlan(plan, clock.now()),
    createGroup: (group) => store.createGroup(group, clock.now()),
    createApp: (app) => store.createApp({ ...app, monthlyQuota: null, rateLimitPerMinute: null }, clock.now()),
    keys: async (appId) => {
      const keys = [];
      let after: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof store.listKeys>> = await store.listKeys(appId, after === null ? { limit: 1000 } : { limit: 1000, after });
        keys.push(...page.items.map((key) => ({ id: key.id, name: key.name, hint: key.hint, revoked: key.revokedAt !== null })));
        after = page.next;
      } while (after !== null);
      return keys;
    },
    revokeKey: (id) => store.revokeKey(id, clock.now()),
    createKey: async (appId, name) => {
      const { key, secret } = await issueKey(store, { appId, name, expiresAt: null }, config.keyPrefix, clock.now());
      return { secret, created: key };
    },
    isConflict: (error) => error instanceof ConflictError,
  };
}

/** The demo catalogue through the SDK's admin API (a server elsewhere, or an EmbeddedTollgate). */
export function adminApiDemoCatalog(admin: AdminApi): DemoCatalog {
  return {
    createPlan: (plan) => admin.plans.create(plan),
    createGroup: (group) => admin.groups.create(group),
    createApp: ({ groupId, ...app }) => admin.apps.create(groupId, app),
    keys: async (appId) => {
      const keys = [];
      let after: string | undefined;
      do {
        const page = await admin.keys.list({ appId, limit: 1000, ...(after === undefined ? {} : { after }) });
        keys.push(...page.items.map((key) => ({ id: key.keyId, name: key.name, hint: key.hint, revoked: key.revokedAt !== null })));
        after = page.next ?? undefined;
      } while (after !== undefined);
      return keys;
    },
    revokeKey: (id) => admin.keys.revoke(id),
    createKey: async (appId, name) => {
      const created = await admin.keys.create(appId, { name });
      return { secret: created.key, created };
    },
    isConflict: (error) => error instanceof TollgateError && error.status === 409,
  };
}

/**
 * `serve --demo`: seeds the demo on the server's own store and returns
 * ready-to-paste curl commands for both seed endpoints and the check API;
 * `adminToken` is what the commands show for the admin token.
 */
export async function createDemo(services: Services, url: string, adminToken: string): Promise<string[]> {
  const { secret, revoked } = await seedDemo(storeDemoCatalog(services));
  return ['', ...demoLines(url, secret, adminToken, new Date(services.clock.now()), revoked)];
}
