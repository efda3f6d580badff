import type { UsageObservation } from '../alerts/alert-watch.js';
import type { MeterCode } from '../domain/metering.js';

/** A refused call, as the dashboard lists it. */
export interface Denial {
  at: number;
  groupId: string;
  appId: string;
  keyId: string | null;
  code: Exclude<MeterCode, 'ok'>;
}

/** A group's units in its current billing period, as last reported by a check. */
export interface Consumer {
  groupId: string;
  used: number;
  quota: number;
  periodStart: number;
  periodEnd: number;
  seenAt: number;
}

export interface ActivityOptions {
  /** Denials kept (the newest). */
  denials?: number;
  /** Groups tracked for the top consumers; past this the smallest is dropped. */
  groups?: number;
}

/**
 * What this instance saw of recent metering, for the dashboard: the last
 * refusals in a fixed ring, and each group's period total as its last check
 * reported it (from the store's counters, so the total is the group's, not
 * this instance's share). Bounded in memory, cheap on the check path (a map
 * write), and gone at restart: the usage charts read the rollups instead.
 */
export class Activity {
  private readonly ring: Array<Denial | undefined>;
  private nextSlot = 0;
  private readonly consumers = new Map<string, Consumer>();
  private readonly maxGroups: number;

  constructor(options: ActivityOptions = {}) {
    this.ring = new Array<Denial | undefined>(options.denials ?? 100);
    this.maxGroups = options.groups ?? 10_000;
  }

  /** Called with every metering decision (synchronously, on the check path). */
  record(observation: UsageObservation, code: MeterCode): void {
    if (code !== 'ok') {
      this.ring[this.nextSlot] = { at: observation.now, groupId: observation.groupId, appId: observation.appId, keyId: observation.keyId, code };
      this.nextSlot = (this.nextSlot + 1) % this.ring.length;
    }
    if (observation.groupUsed === null) return;
    const known = this.consumers.get(observation.groupId);
    // A later period replaces an earlier one; within a period a check that raced ahead is not set back.
    if (known !== undefined && (known.periodStart > observation.period.start
      || (known.periodStart === observation.period.start && known.used > observation.groupUsed))) return;
    this.consumers.set(observation.groupId, {
      groupId: observation.groupId, used: observation.groupUsed, quota: observation.groupQuota,
      periodStart: observation.period.start, periodEnd: observation.period.end, seenAt: observation.now,
    });
    if (this.consumers.size > this.maxGroups) this.dropSmallest();
  }

  /** The newest refusals first. */
  recentDenials(limit: number): Denial[] {
    const out: Denial[] = [];
    for (let i = 1; i <= this.ring.length && out.length < limit; i++) {
      const denial = this.ring[(this.nextSlot - i + this.ring.length) % this.ring.length];
      if (denial === undefined) break;
      out.push(denial);
    }
    return out;
  }

  /** The groups with the most units in their current period (periods that ended before `now` are left out). */
  topConsumers(limit: number, now: number): Consumer[] {
    return [...this.consumers.values()].filter((c) => c.periodEnd > now).sort((a, b) => b.used - a.used || a.groupId.localeCompare(b.groupId)).slice(0, limit);
  }

  private dropSmallest(): void {
    let smallest: Consumer | undefined;
    for (const c of this.consumers.values()) if (smallest === undefined || c.used < smallest.used) smallest = c;
    if (smallest !== undefined) this.consumers.delete(smallest.groupId);
  }
}
