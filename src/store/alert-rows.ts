import type { Alert, AlertKind, AlertSettings, CreditsLow, DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint } from '../domain/alerts.js';
import type { Row } from './catalog-rows.js';
import type { Page } from './store.js';

/**
 * The alert tables, the same in both stores (SQLite reads BIGINT as its
 * INTEGER): each store's migrations append this as one step.
 *
 * `alerts` holds each alert once: the unique key is what makes "at most
 * once per threshold per period" hold across restarts and instances.
 * `webhook_deliveries` is the outbox: a row per alert and endpoint, pending
 * until delivered or given up on, leased (`lease_until`) while one
 * deliverer sends it.
 */
export const ALERT_TABLES = `
  CREATE TABLE alert_settings (
    group_id TEXT PRIMARY KEY REFERENCES customer_groups(id),
    thresholds TEXT NOT NULL,
    kinds TEXT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    period_start BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (group_id, kind, subject, threshold, period_start)
  );
  CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    group_ids TEXT,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
  );
  CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    group_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL,
    next_attempt_at BIGINT,
    lease_until BIGINT,
    replay_of TEXT,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
  CREATE INDEX webhook_deliveries_by_group ON webhook_deliveries(group_id, id);
  CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint_id) WHERE status = 'pending';
  CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    n INTEGER NOT NULL,
    at BIGINT NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    PRIMARY KEY (delivery_id, n)
  );
  -- The periodic scan for keys about to expire.
  CREATE INDEX api_keys_by_expiry ON api_keys(expires_at) WHERE expires_at IS NOT NULL AND revoked_at IS NULL;
`;

/**
 * The `credits_low` setting (JSON as the API writes it, NULL for none), a
 * migration of its own appended after the tables. PostgreSQL's may run
 * again harmlessly (IF NOT EXISTS); SQLite has no such clause.
 */
export const CREDITS_LOW_COLUMN = {
  sqlite: 'ALTER TABLE alert_settings ADD COLUMN credits_low TEXT;',
  postgres: 'ALTER TABLE alert_settings ADD COLUMN IF NOT EXISTS credits_low TEXT;',
};

/** The setting as the column holds it. */
export function creditsLowValue(setting: CreditsLow | null): string | null {
  if (setting === null) return null;
  return JSON.stringify('below' in setting ? { below: setting.below } : { below_share: setting.belowShare });
}

function parseCreditsLow(value: unknown): CreditsLow | null {
  if (value === null || value === undefined) return null;
  const parsed = JSON.parse(value as string) as { below?: number; below_share?: number };
  return parsed.below !== undefined ? { below: parsed.below } : { belowShare: parsed.below_share! };
}

/** The columns of a delivery as both stores select them (with its alert's kind and body and its endpoint's url). */
export const DELIVERY_COLUMNS = `d.id, d.alert_id, d.endpoint_id, d.group_id, d.status, d.next_attempt_at, d.replay_of, d.created_at,
  a.kind, a.body, e.url`;
export const DELIVERY_FROM = 'webhook_deliveries d JOIN alerts a ON a.id = d.alert_id JOIN webhook_endpoints e ON e.id = d.endpoint_id';

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function mapAlertSettings(row: unknown): AlertSettings | null {
  const r = row as Row;
  if (!r) return null;
  return {
    groupId: r.group_id as string, thresholds: JSON.parse(r.thresholds as string) as number[],
    kinds: JSON.parse(r.kinds as string) as AlertKind[], creditsLow: parseCreditsLow(r.credits_low), updatedAt: num(r.updated_at)!,
  };
}

export function mapEndpoint(row: unknown): WebhookEndpoint | null {
  const r = row as Row;
  if (!r) return null;
  return {
    id: r.id as string, url: r.url as string, groupIds: r.group_ids === null ? null : JSON.parse(r.group_ids as string) as string[],
    description: r.description as string, createdAt: num(r.created_at)!, disabledAt: num(r.disabled_at),
  };
}

export function mapAttempt(row: unknown): DeliveryAttempt {
  const r = row as Record<string, unknown>;
  return { at: num(r.at)!, durationMs: num(r.duration_ms)!, statusCode: num(r.status_code), error: (r.error as string | null) ?? null };
}

export function mapDelivery(row: unknown, attempts: DeliveryAttempt[]): WebhookDelivery {
  const r = row as Record<string, unknown>;
  return {
    id: r.id as string, alertId: r.alert_id as string, endpointId: r.endpoint_id as string, groupId: r.group_id as string,
    kind: r.kind as AlertKind, url: r.url as string, status: r.status as DeliveryStatus, createdAt: num(r.created_at)!,
    nextAttemptAt: num(r.next_attempt_at), replayOf: (r.replay_of as string | null) ?? null, body: r.body as string, attempts,
  };
}

/** The alert's row values, in the order of the INSERT both stores use. */
export function alertValues(a: Alert): unknown[] {
  return [a.id, a.groupId, a.kind, a.subject, a.threshold, a.periodStart, a.createdAt, a.body];
}

/** Groups attempts by delivery id, in attempt order. */
export function attemptsByDelivery(rows: readonly unknown[]): Map<string, DeliveryAttempt[]> {
  const byDelivery = new Map<string, DeliveryAttempt[]>();
  for (const row of rows) {
    const id = (row as { delivery_id: string }).delivery_id;
    let list = byDelivery.get(id);
    if (list === undefined) byDelivery.set(id, (list = []));
    list.push(mapAttempt(row));
  }
  return byDelivery;
}

/** A page from `limit + 1` rows: the extra row only says that there is a next page. */
export function pageOf<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
}
