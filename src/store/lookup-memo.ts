/**
 * A bounded memo of lookups by secret hash (or id) that remembers misses
 * too, so that a bad key sent again and again costs no query each. Hits and
 * misses are kept apart, each dropped whole when it reaches `limit`: a flood
 * of wrong keys, however long (a guesser keeps sending them after the
 * failed-authentication throttle refuses its address, since credentials are
 * checked before the throttle), only ever drops other misses, never the
 * entries the valid calls need. Every operation costs O(1).
 */
export class LookupMemo<V> {
  private readonly hits = new Map<string, V>();
  private readonly misses = new Map<string, V>();

  constructor(private readonly limit: number, private readonly isMiss: (value: V) => boolean) {}

  /** The value remembered for `key`; undefined when none is. */
  get(key: string): V | undefined {
    return this.hits.has(key) ? this.hits.get(key) : this.misses.get(key);
  }

  set(key: string, value: V): void {
    const [side, other] = this.isMiss(value) ? [this.misses, this.hits] : [this.hits, this.misses];
    other.delete(key);
    if (side.size >= this.limit) side.clear();
    side.set(key, value);
  }

  clear(): void {
    this.hits.clear();
    this.misses.clear();
  }

  /** Entries remembered, hits and misses. */
  get size(): number {
    return this.hits.size + this.misses.size;
  }
}
