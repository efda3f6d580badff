import Database, { type Database as DB } from 'better-sqlite3';
import type { Alert, AlertSettings, ClaimedDelivery, DeliveryAttempt, DeliveryNext, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint } from '../../domain/alerts.js';
import { alertRefusals, fanOut, replayOf, type NewDelivery } from '../../domain/alert-rules.js';
import type { Key } from '../../domain/types.js';
import {
  alertValues, attemptsByDelivery, creditsLowValue, DELIVERY_COLUMNS, DELIVERY_FROM, mapAlertSettings, mapDelivery, mapEndpoint, pageOf,
} from '../alert-rows.js';
import { mapKey } from '../catalog-rows.js';
import type { AlertStore, Page, PageRequest } from '../store.js';

/**
 * The embedded store's alerts and webhook outbox. Written on the main thread
 * in IMMEDIATE transactions, like the catalogue: alerts are rare and each
 * write is small, so the writer thread's group commit has nothing to gain.
 */
export class SqliteAlerts implements AlertStore {
  private readonly stmt: ReturnType<typeof prepare>;

  constructor(private readonly db: DB) {
    this.stmt = prepare(db);
    // One process per data directory: a lease left by the last run (stopped mid-attempt) belongs to no one.
    this.stmt.releaseLeases.run();
  }

  async getAlertSettings(groupId: string): Promise<AlertSettings | null> {
    this.requireGroup(groupId);
    return mapAlertSettings(this.stmt.getSettings.get(groupId));
  }

  async putAlertSettings(settings: AlertSettings): Promise<AlertSettings> {
    return this.write(() => {
      this.requireGroup(settings.groupId);
      this.stmt.putSettings.run(settings.groupId, JSON.stringify(settings.thresholds), JSON.stringify(settings.kinds), creditsLowValue(settings.creditsLow), settings.updatedAt);
      return mapAlertSettings(this.stmt.getSettings.get(settings.groupId))!;
    });
  }

  async recordAlert(alert: Alert): Promise<{ recorded: boolean; deliveries: number }> {
    return this.write(() => {
      if (this.stmt.insertAlert.run(...alertValues(alert)).changes === 0) return { recorded: false, deliveries: 0 };
      const deliveries = fanOut(alert, (this.stmt.activeEndpoints.all() as unknown[]).map((r) => mapEndpoint(r)!));
      for (const delivery of deliveries) this.insertDelivery(delivery);
      return { recorded: true, deliveries: deliveries.length };
    });
  }

  async createWebhookEndpoint(endpoint: NewWebhookEndpoint): Promise<WebhookEndpoint> {
    return this.write(() => {
      try {
        this.stmt.insertEndpoint.run(endpoint.id, endpoint.url, endpoint.groupIds === null ? null : JSON.stringify(endpoint.groupIds),
          endpoint.description, endpoint.createdAt);
      } catch (error) {
        if (error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw alertRefusals.endpointTaken(endpoint.id);
        }
        throw error;
      }
      return mapEndpoint(this.stmt.getEndpoint.get(endpoint.id))!;
    });
  }

  async getWebhookEndpoint(id: string): Promise<WebhookEndpoint | null> {
    return mapEndpoint(this.stmt.getEndpoint.get(id));
  }

  async listWebhookEndpoints(page: PageRequest): Promise<Page<WebhookEndpoint>> {
    const rows = this.stmt.listEndpoints.all(page.after ?? '', page.limit + 1);
    return pageOf(rows.map((r) => mapEndpoint(r)!), page.limit);
  }

  async disableWebhookEndpoint(id: string, now: number): Promise<WebhookEndpoint> {
    return this.write(() => {
      if (this.stmt.disableEndpoint.run(now, id).changes === 0) throw alertRefusals.noEndpoint(id);
      this.stmt.failPendingOf.run(id);
      return mapEndpoint(this.stmt.getEndpoint.get(id))!;
    });
  }

  async claimDeliveries(now: number, limit: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    // Polled every second: a plain read first, so an empty outbox never waits for the writer thread's lock.
    if (this.stmt.due.get(now, now, 1) === undefined) return [];
    return this.write(() => {
      const rows = this.stmt.due.all(now, now, limit) as Array<Record<string, unknown>>;
      for (const r of rows) this.stmt.lease.run(leaseUntil, r.id);
      return rows.map((r) => ({
        id: r.id as string, url: r.url as string, endpointId: r.endpoint_id as string, body: r.body as string,
        createdAt: r.created_at as number, attempts: r.attempt_count as number,
      }));
    });
  }

  async finishAttempt(deliveryId: string, attempt: DeliveryAttempt, next: DeliveryNext): Promise<void> {
    this.write(() => {
      const row = this.stmt.attemptCount.get(deliveryId) as { attempt_count: number } | undefined;
      if (row === undefined) throw alertRefusals.noDelivery(deliveryId);
      this.stmt.insertAttempt.run(deliveryId, row.attempt_count + 1, attempt.at, attempt.durationMs, attempt.statusCode, attempt.error);
      this.stmt.afterAttempt.run(next.status, next.status === 'pending' ? next.nextAttemptAt : null, deliveryId);
    });
  }

  async listDeliveries(groupId: string, page: PageRequest): Promise<Page<WebhookDelivery>> {
    const rows = page.after === undefined
      ? this.stmt.deliveriesOfGroup.all(groupId, page.limit + 1)
      : this.stmt.deliveriesOfGroupBefore.all(groupId, page.after, page.limit + 1);
    return pageOf(this.withAttempts(rows), page.limit);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | null> {
    const row = this.stmt.getDelivery.get(id);
    return row === undefined ? null : this.withAttempts([row])[0]!;
  }

  async replayDelivery(id: string, now: number): Promise<WebhookDelivery> {
    const newId = this.write(() => {
      const original = this.stmt.getDelivery.get(id) as Record<string, unknown> | undefined;
      if (original === undefined) throw alertRefusals.noDelivery(id);
      const endpoint = mapEndpoint(this.stmt.getEndpoint.get(original.endpoint_id))!;
      const replay = replayOf({ id, alertId: original.alert_id as string, endpointId: endpoint.id, groupId: original.group_id as string }, endpoint, now);
      this.insertDelivery(replay);
      return replay.id;
    });
    return (await this.getDelivery(newId))!;
  }

  async findExpiringKeys(from: number, to: number, limit: number): Promise<Key[]> {
    return this.stmt.expiringKeys.all(from, to, limit).map((r) => mapKey(r)!);
  }

  private insertDelivery(d: NewDelivery): void {
    this.stmt.insertDelivery.run(d.id, d.alertId, d.endpointId, d.groupId, d.dueAt, d.replayOf, d.createdAt);
  }

  private withAttempts(rows: unknown[]): WebhookDelivery[] {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => (r as { id: string }).id);
    const attempts = attemptsByDelivery(this.db.prepare(
      `SELECT * FROM webhook_attempts WHERE delivery_id IN (${ids.map(() => '?').join(', ')}) ORDER BY delivery_id, n`).all(...ids));
    return rows.map((r) => mapDelivery(r, attempts.get((r as { id: string }).id) ?? []));
  }

  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private requireGroup(groupId: string): void {
    if (this.stmt.groupExists.get(groupId) === undefined) throw alertRefusals.noGroup(groupId);
  }
}

function prepare(db: DB) {
  const newestFirst = `SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_FROM} WHERE d.group_id = ?`;
  return {
    groupExists: db.prepare('SELECT 1 FROM customer_groups WHERE id = ?'),
    getSettings: db.prepare('SELECT * FROM alert_settings WHERE group_id = ?'),
    putSettings: db.prepare(`INSERT INTO alert_settings (group_id, thresholds, kinds, credits_low, updated_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (group_id) DO UPDATE SET thresholds = excluded.thresholds, kinds = excluded.kinds, credits_low = excluded.credits_low,
        updated_at = excluded.updated_at`),
    insertAlert: db.prepare(`INSERT INTO alerts (id, group_id, kind, subject, threshold, period_start, created_at, body)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    activeEndpoints: db.prepare('SELECT * FROM webhook_endpoints WHERE disabled_at IS NULL'),
    insertDelivery: db.prepare(`INSERT INTO webhook_deliveries (id, alert_id, endpoint_id, group_id, status, attempt_count, next_attempt_at, replay_of, created_at)
      VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)`),
    insertEndpoint: db.prepare('INSERT INTO webhook_endpoints (id, url, group_ids, description, created_at) VALUES (?, ?, ?, ?, ?)'),
    getEndpoint: db.prepare('SELECT * FROM webhook_endpoints WHERE id = ?'),
    listEndpoints: db.prepare('SELECT * FROM webhook_endpoints WHERE id > ? ORDER BY id LIMIT ?'),
    disableEndpoint: db.prepare('UPDATE webhook_endpoints SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?'),
    failPendingOf: db.prepare("UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL WHERE endpoint_id = ? AND status = 'pending'"),
    releaseLeases: db.prepare('UPDATE webhook_deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL'),
    due: db.prepare(`SELECT d.id, d.endpoint_id, d.created_at, d.attempt_count, a.body, e.url FROM ${DELIVERY_FROM}
      WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
      ORDER BY d.next_attempt_at LIMIT ?`),
    lease: db.prepare('UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?'),
    attemptCount: db.prepare('SELECT attempt_count FROM webhook_deliveries WHERE id = ?'),
    insertAttempt: db.prepare('INSERT INTO webhook_attempts (delivery_id, n, at, duration_ms, status_code, error) VALUES (?, ?, ?, ?, ?, ?)'),
    afterAttempt: db.prepare(`UPDATE webhook_deliveries SET attempt_count = attempt_count + 1, status = ?, next_attempt_at = ?, lease_until = NULL
      WHERE id = ?`),
    deliveriesOfGroup: db.prepare(`${newestFirst} ORDER BY d.id DESC LIMIT ?`),
    deliveriesOfGroupBefore: db.prepare(`${newestFirst} AND d.id < ? ORDER BY d.id DESC LIMIT ?`),
    getDelivery: db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_FROM} WHERE d.id = ?`),
    expiringKeys: db.prepare(`SELECT k.id, k.app_id, a.group_id, k.name, k.hint, k.created_at, k.expires_at, k.revoked_at
      FROM api_keys k JOIN apps a ON a.id = k.app_id
      WHERE k.expires_at > ? AND k.expires_at <= ? AND k.revoked_at IS NULL ORDER BY k.expires_at, k.id LIMIT ?`),
  };
}
