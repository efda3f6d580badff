import type { UsageDimension, UsageEvent } from '../domain/types.js';
import { USAGE_DIMENSIONS } from '../domain/types.js';
import { LEVEL_MS, ROLLUP_LEVELS, type RollupLevel } from './store.js';

/** One rollup row's worth of change: add `count`, and fold the sole values in. */
export interface RollupDelta {
  level: RollupLevel;
  groupId: string;
  dimension: UsageDimension;
  bucket: number;
  value: string;
  count: number;
  appId: string | null;
  usageType: string | null;
  requestArgsHash: string | null;
}

/**
 * Sums events into rollup deltas in memory, so that a burst of calls from one
 * app becomes one upsert per bucket instead of one per call. Each event
 * touches 9 rows (3 bucket sizes x 3 dimensions); buffered for a fraction of
 * a second, thousands of events collapse onto a few dozen rows.
 */
export class RollupBuffer {
  private readonly deltas = new Map<string, RollupDelta>();
  private events = 0;

  add(event: UsageEvent): void {
    this.events += 1;
    for (const level of ROLLUP_LEVELS) {
      const size = LEVEL_MS[level];
      const bucket = event.ts - (((event.ts % size) + size) % size);
      for (const dimension of USAGE_DIMENSIONS) {
        const value = dimensionValue(event, dimension);
        const id = `${level}\u0000${event.groupId}\u0000${dimension}\u0000${bucket}\u0000${value}`;
        const existing = this.deltas.get(id);
        if (existing === undefined) {
          this.deltas.set(id, {
            level, groupId: event.groupId, dimension, bucket, value, count: event.count,
            appId: event.appId, usageType: event.usageType, requestArgsHash: event.requestArgsHash,
          });
        } else {
          existing.count += event.count;
          existing.appId = foldSole(existing.appId, event.appId);
          existing.usageType = foldSole(existing.usageType, event.usageType);
          existing.requestArgsHash = foldSole(existing.requestArgsHash, event.requestArgsHash);
        }
      }
    }
  }

  /** Number of events added since the last drain. */
  get pendingEvents(): number {
    return this.events;
  }

  /** Takes every delta out of the buffer. */
  drain(): RollupDelta[] {
    const out = [...this.deltas.values()];
    this.deltas.clear();
    this.events = 0;
    return out;
  }
}

export function dimensionValue(event: Pick<UsageEvent, 'appId' | 'usageType' | 'requestArgsHash'>, dimension: UsageDimension): string {
  switch (dimension) {
    case 'app_id': return event.appId;
    case 'usage_type': return event.usageType;
    case 'request_args_hash': return event.requestArgsHash;
  }
}

/** The one value shared so far, or null once two differ. */
export function foldSole(a: string | null, b: string | null): string | null {
  return a !== null && a === b ? a : null;
}
