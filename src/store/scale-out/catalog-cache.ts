import type { Redis } from 'ioredis';
import { LookupMemo } from '../lookup-memo.js';

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
