import type { Redis } from 'ioredis';
import { billingPeriod, type Span } from '../../domain/periods.js';
import type { App, Group, Key, KeyContext, Plan, ServiceToken } from '../../domain/types.js';
import { LookupMemo } from '../lookup-memo.js';
import type { PgCatalog } from '../postgres/pg-catalog.js';
import type { AppPatch, CatalogStore, GroupPatch, NewApp, NewGroup, NewKey, NewPlan, NewServiceToken, Page, PageRequest, PlanPatch } from '../store.js';

/** The channel on which instances say "the catalogue changed". */
export const CATALOG_CHANNEL = 'tollgate:catalog';

const LIMIT = 100_000;

/**
 * What an instance remembers of the shared catalogue (key contexts by
 * secret hash, service tokens, apps, groups' time zones), so a call costs
 * no query. Every change, on any instance, is published on a Redis channel
 * and every instance drops what it remembers when the message arrives (a few
 * milliseconds), so a revoked key or a changed plan holds everywhere within
 * a second. Entries also expire after `maxAgeMs`, and everything is dropped
 * when the subscription is re-established, so a message lost while Redis was
 * away cannot keep a stale entry alive. An expired entry is still served
 * while PostgreSQL cannot be reached.
 */
export class CatalogCache {
  private readonly maps = new Map<string, LookupMemo<{ value: unknown; at: number }>>();
  /** Bumped on every invalidation: a load that began before it must not be cached. */
  private generation = 0;

  constructor(private readonly maxAgeMs: number, private readonly now: () => number = Date.now) {}

  async get<T>(kind: string, id: string, load: () => Promise<T>): Promise<T> {
    let map = this.maps.get(kind);
    if (map === undefined) {
      // Unknown ids and secrets are remembered apart: a flood of wrong keys never pushes the known ones out.
      map = new LookupMemo(LIMIT, (entry) => entry.value === null);
      this.maps.set(kind, map);
    }
    const hit = map.get(id);
    if (hit !== undefined && this.now() - hit.at < this.maxAgeMs) return hit.value as T;
    const generation = this.generation;
    let value: T;
    try {
      value = await load();
    } catch (error) {
      // PostgreSQL away: an entry past its age is still the best answer there is.
      if (hit !== undefined) return hit.value as T;
      throw error;
    }
    if (generation === this.generation) {
      map.set(id, { value, at: this.now() });
    }
    return value;
  }

  clear(): void {
    this.generation += 1;
    this.maps.clear();
  }
}

/**
 * Joins an instance's cache to the others: `publish` after a change made
 * here, and a message from any instance (this one included) clears the cache.
 */
export class CatalogInvalidation {
  private constructor(private readonly publisher: Redis, private readonly subscriber: Redis) {}

  static async start(publisher: Redis, subscriber: Redis, cache: CatalogCache): Promise<CatalogInvalidation> {
    subscriber.on('message', (channel: string) => {
      if (channel === CATALOG_CHANNEL) cache.clear();
    });
    // After a reconnect (ioredis subscribes again by itself) anything may have changed meanwhile.
    subscriber.on('ready', () => cache.clear());
    await subscriber.subscribe(CATALOG_CHANNEL);
    return new CatalogInvalidation(publisher, subscriber);
  }

  /** Tells every instance the catalogue changed; when Redis is away the others' entries still expire. */
  async publish(): Promise<void> {
    await this.publisher.publish(CATALOG_CHANNEL, String(Date.now())).catch(() => undefined);
  }

  close(): void {
    this.subscriber.disconnect();
  }
}

/**
 * The shared catalogue with what this instance remembers of it: the lookups
 * every call makes (key contexts, service tokens, apps, groups' time zones)
 * come from the cache; every change tells every instance (this one too) to
 * forget what it cached.
 */
export class CachedCatalog implements CatalogStore {
  constructor(private readonly catalog: PgCatalog, private readonly cache: CatalogCache, private readonly invalidation: CatalogInvalidation) {}

  createPlan(plan: NewPlan, now: number): Promise<Plan> {
    return this.change(() => this.catalog.createPlan(plan, now));
  }

  getPlan(id: string): Promise<Plan | null> {
    return this.catalog.getPlan(id);
  }

  listPlans(page: PageRequest): Promise<Page<Plan>> {
    return this.catalog.listPlans(page);
  }

  updatePlan(id: string, patch: PlanPatch, now: number): Promise<Plan> {
    return this.change(() => this.catalog.updatePlan(id, patch, now));
  }

  createGroup(group: NewGroup, now: number): Promise<Group> {
    return this.change(() => this.catalog.createGroup(group, now));
  }

  getGroup(id: string): Promise<Group | null> {
    return this.catalog.getGroup(id);
  }

  listGroups(page: PageRequest): Promise<Page<Group>> {
    return this.catalog.listGroups(page);
  }

  updateGroup(id: string, patch: GroupPatch, now: number): Promise<Group> {
    return this.change(() => this.catalog.updateGroup(id, patch, now));
  }

  createApp(app: NewApp, now: number): Promise<App> {
    return this.change(() => this.catalog.createApp(app, now));
  }

  getApp(id: string): Promise<App | null> {
    // Every ingested batch looks up the apps it names.
    return this.cache.get('app', id, () => this.catalog.getApp(id));
  }

  listApps(groupId: string | null, page: PageRequest): Promise<Page<App>> {
    return this.catalog.listApps(groupId, page);
  }

  updateApp(id: string, patch: AppPatch, now: number): Promise<App> {
    return this.change(() => this.catalog.updateApp(id, patch, now));
  }

  createKey(key: NewKey): Promise<Key> {
    return this.change(() => this.catalog.createKey(key));
  }

  getKey(id: string): Promise<Key | null> {
    return this.catalog.getKey(id);
  }

  listKeys(appId: string | null, page: PageRequest): Promise<Page<Key>> {
    return this.catalog.listKeys(appId, page);
  }

  revokeKey(id: string, now: number): Promise<Key> {
    return this.change(() => this.catalog.revokeKey(id, now));
  }

  findKeyContext(secretHash: string): Promise<KeyContext | null> {
    return this.cache.get('key', secretHash, () => this.catalog.findKeyContext(secretHash));
  }

  createServiceToken(token: NewServiceToken): Promise<ServiceToken> {
    return this.change(() => this.catalog.createServiceToken(token));
  }

  listServiceTokens(page: PageRequest): Promise<Page<ServiceToken>> {
    return this.catalog.listServiceTokens(page);
  }

  revokeServiceToken(id: string, now: number): Promise<ServiceToken> {
    return this.change(() => this.catalog.revokeServiceToken(id, now));
  }

  findServiceToken(secretHash: string): Promise<ServiceToken | null> {
    return this.cache.get('token', secretHash, () => this.catalog.findServiceToken(secretHash));
  }

  /** The billing period of the group that holds `ts` (its plan's zone; UTC for a group that is gone). */
  async periodOf(groupId: string, ts: number): Promise<Span> {
    const timeZone = await this.cache.get('zone', groupId, async () => {
      const group = await this.catalog.getGroup(groupId);
      return group === null ? 'UTC' : (await this.catalog.getPlan(group.planId))?.timeZone ?? 'UTC';
    });
    return billingPeriod(ts, timeZone);
  }

  /** Runs a catalogue change, then tells every instance (this one too) to forget what it cached. */
  private async change<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.cache.clear();
      await this.invalidation.publish();
    }
  }
}
