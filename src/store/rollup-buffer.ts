import type { UsageDimension, UsageEvent } from '../domain/types.js';
import { USAGE_DIMENSIONS } from '../domain/types.js';
import { appUsageDimension, keyUsageDimension, LEVEL_MS, ROLLUP_LEVELS, type RollupDimension, type RollupLevel } from '../domain/rollups.js';

/** One rollup row's worth of change: add `count`, and fold the sole values in. */
export interface RollupDelta {
  level: RollupLevel;
  groupId: string;
  dimension: RollupDimension;
  bucket: number;
  value: string;
  count: number;
  appId: string | null;
  usageType: string | null;
  requestArgsHash: string | null;
}

/** What a rollup is summed from: a committed call (with its key) or an ingested event (none). */
export type RolledUpEvent = Pick<UsageEvent, 'ts' | 'groupId' | 'appId' | 'usageType' | 'requestArgsHash' | 'count'> & { keyId?: string | null };

/** Units of one kind of call (group, app, key, usage type, arguments) in one 15-minute bucket. */
interface TupleSum {
  groupId: string;
  appId: string;
  keyId: string | null;
  usageType: string;
  requestArgsHash: string;
  quarter: number;
  count: number;
}

const QUARTER_MS = LEVEL_MS.quarter;

/**
 * Sums events into rollup deltas in memory, so that a burst of calls becomes
 * one upsert per row instead of up to fifteen per call. Adding an event
 * costs one map update: events are summed per kind of call and quarter hour,
 * and only `drain` spreads each sum over the rows it touches (3 bucket sizes
 * x the 3 public dimensions, its app's usage type and, for a call with a
 * key, its key's), once per distinct kind of call rather than once per event.
 */
export class RollupBuffer {
  private readonly tuples = new Map<string, TupleSum>();
  private events = 0;

  add(event: RolledUpEvent): void {
    this.events += 1;
    const quarter = event.ts - (((event.ts % QUARTER_MS) + QUARTER_MS) % QUARTER_MS);
    const keyId = event.keyId ?? null;
    const id = `${event.groupId}\u0000${event.appId}\u0000${keyId === null ? '-' : `+${keyId}`}\u0000${event.usageType}\u0000${event.requestArgsHash}\u0000${quarter}`;
    const existing = this.tuples.get(id);
    if (existing === undefined) {
      this.tuples.set(id, {
        groupId: event.groupId, appId: event.appId, keyId, usageType: event.usageType,
        requestArgsHash: event.requestArgsHash, quarter, count: event.count,
      });
    } else {
      existing.count += event.count;
    }
  }

  /** Number of events added since the last drain. */
  get pendingEvents(): number {
    return this.events;
  }

  /** Takes everything out of the buffer, as one delta per rollup row. */
  drain(): RollupDelta[] {
    const deltas = this.deltas();
    this.clear();
    return deltas;
  }

  /** Empties the buffer (once its deltas are written). */
  clear(): void {
    this.tuples.clear();
    this.events = 0;
  }

  /** What the buffer holds, as one delta per rollup row; the buffer keeps it until `clear`. */
  deltas(): RollupDelta[] {
    const deltas = new Map<string, RollupDelta>();
    for (const t of this.tuples.values()) {
      const rows = rowsOf(t);
      for (const level of ROLLUP_LEVELS) {
        const size = LEVEL_MS[level];
        const bucket = t.quarter - (((t.quarter % size) + size) % size);
        for (const [dimension, value] of rows) {
          const id = `${level}\u0000${t.groupId}\u0000${dimension}\u0000${bucket}\u0000${value}`;
          const existing = deltas.get(id);
          if (existing === undefined) {
            deltas.set(id, {
              level, groupId: t.groupId, dimension, bucket, value, count: t.count,
              appId: t.appId, usageType: t.usageType, requestArgsHash: t.requestArgsHash,
            });
          } else {
            existing.count += t.count;
            existing.appId = foldSole(existing.appId, t.appId);
            existing.usageType = foldSole(existing.usageType, t.usageType);
            existing.requestArgsHash = foldSole(existing.requestArgsHash, t.requestArgsHash);
          }
        }
      }
    }
    return [...deltas.values()];
  }
}

/** The rows a kind of call counts in: each dimension with its value. */
function rowsOf(t: TupleSum): Array<[RollupDimension, string]> {
  const rows: Array<[RollupDimension, string]> = USAGE_DIMENSIONS.map((dimension) => [dimension, dimensionValue(t, dimension)]);
  rows.push([appUsageDimension(t.appId), t.usageType]);
  if (t.keyId !== null) rows.push([keyUsageDimension(t.keyId), t.usageType]);
  return rows;
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
