import { periodsBetween, type Timespan } from '../domain/periods.js';
import type { UsageDimension } from '../domain/types.js';
import { foldSole } from '../store/rollup-buffer.js';
import { ceilToQuarter, decompose, floorToQuarter } from '../domain/rollup-segments.js';
import type { RollupStore } from '../domain/rollups.js';

export interface UsageQuery {
  groupId: string;
  /** Inclusive; moved down to a 15-minute edge, the rollups' resolution. */
  from: number;
  /** Exclusive; moved up to a 15-minute edge. */
  to: number;
  groupBy: UsageDimension;
  timespan: Timespan;
  /** IANA zone the periods are aligned to. */
  zone: string;
}

/** A record of `GET /v3/ocr-usage`, field for field as in Mathpix's documentation. */
export interface UsageRecord {
  from_date: string;
  app_id: string;
  group_id: string;
  usage_type: string;
  request_args_hash: string;
  count: number;
}

/** The most periods one query may return; a larger query asks for a coarser timespan. */
export const MAX_PERIODS = 10_000;

export class TooManyPeriodsError extends Error {
  override name = 'TooManyPeriodsError';
}

interface Accumulator {
  count: number;
  appId: string | null;
  usageType: string | null;
  requestArgsHash: string | null;
}

/**
 * Usage per period and per value of `groupBy`, summed from rollups.
 *
 * A record's `from_date` is where its period starts, or the query's
 * `from_date` for a first period that started earlier. The field grouped on
 * holds the group's value; `group_id` is the caller's group; each other field
 * holds the one value shared by every unit counted in the record, or `""`
 * when they differ (a record over two apps has `app_id: ""`). A call made
 * without request arguments has `request_args_hash: ""` as well.
 */
export async function queryUsage(store: RollupStore, query: UsageQuery): Promise<UsageRecord[]> {
  const from = floorToQuarter(query.from);
  const to = ceilToQuarter(query.to);
  if (to <= from) return [];
  const periods = periodsBetween(from, to, query.timespan, query.zone, MAX_PERIODS);
  if (periods === null) {
    throw new TooManyPeriodsError(`from_date to to_date spans more than ${MAX_PERIODS} periods of one ${query.timespan}; use a larger timespan or a shorter range.`);
  }
  // Each period is a few runs of whole buckets; all runs are summed in one call to the store.
  const segments = periods.map((p) => decompose(p));
  const sums = await store.sumRollups({ groupId: query.groupId, dimension: query.groupBy, segments: segments.flat() });

  let next = 0;
  const totals = segments.map((ofPeriod) => {
    const byValue = new Map<string, Accumulator>();
    for (const rows of sums.slice(next, next + ofPeriod.length)) {
      for (const row of rows) {
        const acc = byValue.get(row.value);
        if (acc === undefined) {
          byValue.set(row.value, { count: row.count, appId: row.appId, usageType: row.usageType, requestArgsHash: row.requestArgsHash });
        } else {
          acc.count += row.count;
          acc.appId = foldSole(acc.appId, row.appId);
          acc.usageType = foldSole(acc.usageType, row.usageType);
          acc.requestArgsHash = foldSole(acc.requestArgsHash, row.requestArgsHash);
        }
      }
    }
    next += ofPeriod.length;
    return byValue;
  });

  const records: UsageRecord[] = [];
  totals.forEach((byValue, i) => {
    const fromDate = new Date(periods[i]!.start).toISOString();
    for (const value of [...byValue.keys()].sort()) {
      const acc = byValue.get(value)!;
      if (acc.count === 0) continue;
      records.push({
        from_date: fromDate,
        app_id: query.groupBy === 'app_id' ? value : acc.appId ?? '',
        group_id: query.groupId,
        usage_type: query.groupBy === 'usage_type' ? value : acc.usageType ?? '',
        request_args_hash: query.groupBy === 'request_args_hash' ? value : acc.requestArgsHash ?? '',
        count: acc.count,
      });
    }
  });
  return records;
}
