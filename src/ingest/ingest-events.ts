import { requestArgsHash } from '../domain/canonical-json.js';
import type { App, KeyContext } from '../domain/types.js';
import type { IngestEvent } from '../domain/metering.js';
import { billingPeriod } from '../domain/periods.js';
import type { EventMetering } from '../engine/ports.js';
import { periodTotals } from '../domain/limit-decision.js';
import { callCredits, ingestLimits } from '../metering/limits.js';
import type { Store } from '../store/store.js';
import { normaliseCloudEvent } from './cloudevents.js';
import type { NormalisedEvent, Refusal } from './normalised-event.js';

export type { RejectionCode } from './normalised-event.js';

/** How far ahead of the receiving clock an event's timestamp may be. */
export const MAX_FUTURE_MS = 5 * 60_000;

export const USAGE_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const HASH_PATTERN = /^([0-9a-f]{40})?$/;
const MAX_COUNT = 1_000_000_000;

export interface Rejection extends Refusal {
  /** Position of the event in the batch (0-based; the line for NDJSON, from 0). */
  index: number;
  id: string | null;
}

export interface IngestReport {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

export type EventShape = 'tollgate' | 'cloudevents';

/**
 * Reads one event of the Tollgate shape (`id`, `app_id`, `usage_type`,
 * `count`, `timestamp`, `request_args` or `request_args_hash`) or a
 * CloudEvent (see cloudevents.ts).
 */
export function normalise(raw: unknown, shape: EventShape): NormalisedEvent | Refusal {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { error: 'invalid_event', message: 'An event must be a JSON object.' };
  const e = raw as Record<string, unknown>;
  if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 255) return { error: 'invalid_event', message: '"id" must be a string of 1 to 255 characters.' };
  // PostgreSQL's text columns cannot hold NUL: refused alike on both stores, not a failure on one.
  if (e.id.includes('\u0000')) return { error: 'invalid_event', message: '"id" must not contain the NUL character (U+0000).' };
  if (shape === 'cloudevents') return normaliseCloudEvent(e as Record<string, unknown> & { id: string });
  return {
    dedupKey: `id:${e.id}`, id: e.id, appId: e.app_id, usageType: e.usage_type, count: e.count ?? 1,
    timestamp: e.timestamp, requestArgs: e.request_args, requestArgsHash: e.request_args_hash,
  };
}

export interface IngestDeps {
  store: Store;
  /** Told of the usage accepted (usage alerts), after it is recorded; never awaited. */
  alerts?: { observeIngest(events: readonly IngestEvent[], apps: ReadonlyMap<string, App | null>): void };
  /** The dedup window: events older than this are refused, ids are remembered this long. */
  windowMs: number;
}

/**
 * Validates a batch event by event, records the valid ones durably (each id
 * once within the window) and says what happened to every event. A bad event
 * never holds up the good ones.
 */
export async function ingestBatch(
  deps: IngestDeps, raws: readonly unknown[], shape: EventShape, now: number,
  /** Where event i stands in what the client sent (its line, for NDJSON). */
  indexOf: (i: number) => number = (i) => i,
): Promise<IngestReport> {
  const rejected: Rejection[] = [];
  const valid: IngestEvent[] = [];
  const events = raws.map((raw) => normalise(raw, shape));
  // The apps a batch names, read once each, so that checking each event is synchronous.
  const apps = new Map<string, App | null>();
  for (const e of events) {
    if ('error' in e || typeof e.appId !== 'string' || apps.has(e.appId)) continue;
    // No app id holds NUL (they are made to a pattern), and PostgreSQL cannot even look one up: an unknown app on both stores.
    apps.set(e.appId, e.appId.includes('\u0000') ? null : await deps.store.getApp(e.appId));
  }
  events.forEach((event, i) => {
    const index = indexOf(i);
    if ('error' in event) {
      const id = (raws[i] as { id?: unknown } | null)?.id;
      rejected.push({ index, id: typeof id === 'string' ? id : null, ...event });
      return;
    }
    const result = validate(deps, event, now, apps);
    if ('error' in result) rejected.push({ index, id: event.id, ...result });
    else valid.push(result);
  });
  const outcomes = await deps.store.ingest(valid, await meteringOf(deps.store, apps, now));
  deps.alerts?.observeIngest(valid.filter((_, i) => outcomes[i] === 'accepted'), apps);
  const duplicates = outcomes.filter((o) => o === 'duplicate').length;
  return { accepted: outcomes.length - duplicates, duplicates, rejected };
}

/**
 * What each event counts toward, by its app and kind: the period counters
 * of its plan's, group's and app's limits (src/metering/limits.ts), and its
 * plan's credits, charged now in the current period. Worked out once per
 * app and kind in the batch.
 */
async function meteringOf(store: Store, apps: ReadonlyMap<string, App | null>, now: number): Promise<(event: IngestEvent) => EventMetering> {
  const contexts = new Map<string, Omit<KeyContext, 'key'>>();
  for (const app of apps.values()) {
    if (app === null || contexts.has(app.id)) continue;
    const group = await store.getGroup(app.groupId);
    const plan = group === null ? null : await store.getPlan(group.planId);
    if (group !== null && plan !== null) contexts.set(app.id, { app, group, plan });
  }
  const memo = new Map<string, EventMetering>();
  return (event) => {
    const key = `${event.appId}\u0000${event.usageType}`;
    let metering = memo.get(key);
    if (metering === undefined) {
      const context = contexts.get(event.appId);
      const credits = context === undefined ? undefined : callCredits(context.plan, event.usageType);
      metering = {
        limits: context === undefined ? periodTotals(event.groupId, event.appId) : ingestLimits(context, event.usageType),
        ...(credits === undefined ? {} : { credits: { credits, now, period: billingPeriod(now, context!.plan.timeZone) } }),
      };
      memo.set(key, metering);
    }
    return metering;
  };
}

function validate(deps: IngestDeps, e: NormalisedEvent, now: number, apps: ReadonlyMap<string, App | null>): IngestEvent | Refusal {
  if (typeof e.appId !== 'string' || e.appId.length === 0) return { error: 'unknown_app', message: 'The event names no app (app_id, or subject for a CloudEvent).' };
  const app = apps.get(e.appId);
  if (app === null || app === undefined) return { error: 'unknown_app', message: `No app with id "${e.appId}".` };
  if (app.disabledAt !== null && app.disabledAt <= now) return { error: 'app_disabled', message: `App "${app.id}" is disabled.` };
  if (typeof e.usageType !== 'string' || !USAGE_TYPE_PATTERN.test(e.usageType)) {
    return { error: 'invalid_usage_type', message: 'The usage type must be 1 to 64 letters, digits or ._:- (usage_type, or type for a CloudEvent).' };
  }
  if (typeof e.count !== 'number' || !Number.isInteger(e.count) || e.count < 1 || e.count > MAX_COUNT) {
    return { error: 'invalid_count', message: `"count" must be a whole number from 1 to ${MAX_COUNT}.` };
  }
  let ts = now;
  if (e.timestamp !== undefined) {
    ts = typeof e.timestamp === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(e.timestamp) ? Date.parse(e.timestamp) : Number.NaN;
    if (Number.isNaN(ts)) return { error: 'invalid_timestamp', message: 'The timestamp must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z.' };
    if (ts > now + MAX_FUTURE_MS) return { error: 'timestamp_in_future', message: 'The timestamp is more than 5 minutes ahead of the server clock.' };
    if (ts < now - deps.windowMs) {
      return { error: 'timestamp_too_old', message: `The timestamp is older than the ${Math.round(deps.windowMs / 86_400_000)}-day window in which duplicates are detected.` };
    }
  }
  let hash: string;
  if (e.requestArgs !== undefined) {
    if (e.requestArgs === null || typeof e.requestArgs !== 'object' || Array.isArray(e.requestArgs)) {
      return { error: 'invalid_request_args', message: '"request_args" must be a JSON object.' };
    }
    hash = requestArgsHash(e.requestArgs as Record<string, unknown>);
  } else if (e.requestArgsHash !== undefined) {
    if (typeof e.requestArgsHash !== 'string' || !HASH_PATTERN.test(e.requestArgsHash)) {
      return { error: 'invalid_request_args', message: '"request_args_hash" must be 40 lowercase hex characters (SHA-1), or "".' };
    }
    hash = e.requestArgsHash;
  } else {
    hash = '';
  }
  return { dedupKey: e.dedupKey, ts, groupId: app.groupId, appId: app.id, usageType: e.usageType, requestArgsHash: hash, count: e.count };
}
