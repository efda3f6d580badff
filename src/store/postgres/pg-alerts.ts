import type { Pool } from 'pg';
import { inTransaction } from './pg-transaction.js';
import type { Alert, AlertSettings, ClaimedDelivery, DeliveryAttempt, DeliveryNext, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint } from '../../domain/alerts.js';
import { alertRefusals, fanOut, replayOf, type NewDelivery } from '../../domain/alert-rules.js';
import type { Key } from '../../domain/types.js';
import {
  alertValues, attemptsByDelivery, creditsLowValue, DELIVERY_COLUMNS, DELIVERY_FROM, mapAlertSettings, mapDelivery, mapEndpoint, pageOf,
} from '../alert-rows.js';
import { mapKey } from '../catalog-rows.js';
import type { AlertStore, Page, PageRequest } from '../store.js';

const INSERT_DELIVERY = `INSERT INTO webhook_deliveries (id, alert_id, endpoint_id, group_id, status, attempt_count, next_attempt_at, replay_of, created_at)
  VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7)`;

const deliveryValues = (d: NewDelivery) => [d.id, d.alertId, d.endpointId, d.groupId, d.dueAt, d.replayOf, d.createdAt];

/**
 * The scale-out store's alerts and webhook outbox in PostgreSQL, shared by
 * every instance: an alert is recorded once whichever instances raise it
 * (the unique key), and a delivery is claimed by one instance at a time
 * (FOR UPDATE SKIP LOCKED, then a lease for the length of the attempt).
 */
export class PgAlerts implements AlertStore {
  constructor(private readonly pool: Pool) {}

  async getAlertSettings(groupId: string): Promise<AlertSettings | null> {
    const { rows } = await this.pool.query(`SELECT g.id, s.* FROM customer_groups g LEFT JOIN alert_settings s ON s.group_id = g.id
      WHERE g.id = $1`, [groupId]);
    if (rows.length === 0) throw alertRefusals.noGroup(groupId);
    return rows[0].group_id === null ? null : mapAlertSettings(rows[0]);
  }

  async putAlertSettings(settings: AlertSettings): Promise<AlertSettings> {
    try {
      const { rows } = await this.pool.query(`INSERT INTO alert_settings (group_id, thresholds, kinds, credits_low, updated_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (group_id) DO UPDATE SET thresholds = excluded.thresholds, kinds = excluded.kinds, credits_low = excluded.credits_low,
          updated_at = excluded.updated_at
        RETURNING *`, [settings.groupId, JSON.stringify(settings.thresholds), JSON.stringify(settings.kinds), creditsLowValue(settings.creditsLow), settings.updatedAt]);
      return mapAlertSettings(rows[0])!;
    } catch (error) {
      if ((error as { code?: string }).code === '23503') throw alertRefusals.noGroup(settings.groupId);
      throw error;
    }
  }

  async recordAlert(alert: Alert): Promise<{ recorded: boolean; deliveries: number }> {
    return inTransaction(this.pool, async (client) => {
      // A concurrent insert of the same alert waits here for this one's transaction, then inserts nothing.
      const inserted = await client.query(`INSERT INTO alerts (id, group_id, kind, subject, threshold, period_start, created_at, body)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`, alertValues(alert));
      if (inserted.rowCount === 0) return { recorded: false, deliveries: 0 };
      // FOR SHARE: an endpoint being deleted now waits, and then fails the deliveries made here too.
      const { rows } = await client.query('SELECT * FROM webhook_endpoints WHERE disabled_at IS NULL FOR SHARE');
      const deliveries = fanOut(alert, rows.map((r) => mapEndpoint(r)!));
      for (const delivery of deliveries) await client.query(INSERT_DELIVERY, deliveryValues(delivery));
      return { recorded: true, deliveries: deliveries.length };
    });
  }

  async createWebhookEndpoint(endpoint: NewWebhookEndpoint): Promise<WebhookEndpoint> {
    try {
      const { rows } = await this.pool.query('INSERT INTO webhook_endpoints (id, url, group_ids, description, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
        [endpoint.id, endpoint.url, endpoint.groupIds === null ? null : JSON.stringify(endpoint.groupIds), endpoint.description, endpoint.createdAt]);
      return mapEndpoint(rows[0])!;
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw alertRefusals.endpointTaken(endpoint.id);
      throw error;
    }
  }

  async getWebhookEndpoint(id: string): Promise<WebhookEndpoint | null> {
    const { rows } = await this.pool.query('SELECT * FROM webhook_endpoints WHERE id = $1', [id]);
    return mapEndpoint(rows[0]);
  }

  async listWebhookEndpoints(page: PageRequest): Promise<Page<WebhookEndpoint>> {
    const { rows } = await this.pool.query('SELECT * FROM webhook_endpoints WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2',
      [page.after ?? '', page.limit + 1]);
    return pageOf(rows.map((r) => mapEndpoint(r)!), page.limit);
  }

  async disableWebhookEndpoint(id: string, now: number): Promise<WebhookEndpoint> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query('UPDATE webhook_endpoints SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1 RETURNING *', [id, now]);
      if (rows.length === 0) throw alertRefusals.noEndpoint(id);
      await client.query(`UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL
        WHERE endpoint_id = $1 AND status = 'pending'`, [id]);
      return mapEndpoint(rows[0])!;
    });
  }

  async claimDeliveries(now: number, limit: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    // Rows another instance is claiming are skipped, not waited for; once it commits, their lease keeps them out.
    const { rows } = await this.pool.query(`WITH due AS (
        SELECT id FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
        ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      UPDATE webhook_deliveries d SET lease_until = $3 FROM due, alerts a, webhook_endpoints e
      WHERE d.id = due.id AND a.id = d.alert_id AND e.id = d.endpoint_id
      RETURNING d.id, d.endpoint_id, d.created_at, d.attempt_count, a.body, e.url`, [now, limit, leaseUntil]);
    return rows
      .map((r) => ({ id: r.id, url: r.url, endpointId: r.endpoint_id, body: r.body, createdAt: Number(r.created_at), attempts: Number(r.attempt_count) }))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async finishAttempt(deliveryId: string, attempt: DeliveryAttempt, next: DeliveryNext): Promise<void> {
    const { rowCount } = await this.pool.query(`WITH d AS (
        UPDATE webhook_deliveries SET attempt_count = attempt_count + 1, status = $2, next_attempt_at = $3, lease_until = NULL
        WHERE id = $1 RETURNING id, attempt_count)
      INSERT INTO webhook_attempts (delivery_id, n, at, duration_ms, status_code, error) SELECT id, attempt_count, $4, $5, $6, $7 FROM d`,
    [deliveryId, next.status, next.status === 'pending' ? next.nextAttemptAt : null, attempt.at, attempt.durationMs, attempt.statusCode, attempt.error]);
    if (rowCount === 0) throw alertRefusals.noDelivery(deliveryId);
  }

  async listDeliveries(groupId: string, page: PageRequest): Promise<Page<WebhookDelivery>> {
    const { rows } = await this.pool.query(`SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_FROM}
      WHERE d.group_id = $1 AND ($2 = '' OR d.id < $2 COLLATE "C") ORDER BY d.id COLLATE "C" DESC LIMIT $3`, [groupId, page.after ?? '', page.limit + 1]);
    return pageOf(await this.withAttempts(rows), page.limit);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | null> {
    const { rows } = await this.pool.query(`SELECT ${DELIVERY_COLUMNS} FROM ${DELIVERY_FROM} WHERE d.id = $1`, [id]);
    return rows.length === 0 ? null : (await this.withAttempts(rows))[0]!;
  }

  async replayDelivery(id: string, now: number): Promise<WebhookDelivery> {
    const original = await this.getDelivery(id);
    if (original === null) throw alertRefusals.noDelivery(id);
    const replay = replayOf(original, (await this.getWebhookEndpoint(original.endpointId))!, now);
    await this.pool.query(INSERT_DELIVERY, deliveryValues(replay));
    return (await this.getDelivery(replay.id))!;
  }

  async findExpiringKeys(from: number, to: number, limit: number): Promise<Key[]> {
    const { rows } = await this.pool.query(`SELECT k.id, k.app_id, a.group_id, k.name, k.hint, k.created_at, k.expires_at, k.revoked_at
      FROM api_keys k JOIN apps a ON a.id = k.app_id
      WHERE k.expires_at > $1 AND k.expires_at <= $2 AND k.revoked_at IS NULL ORDER BY k.expires_at, k.id COLLATE "C" LIMIT $3`, [from, to, limit]);
    return rows.map((r) => mapKey(r)!);
  }

  private async withAttempts(rows: Array<Record<string, unknown>>): Promise<WebhookDelivery[]> {
    if (rows.length === 0) return [];
    const { rows: attempts } = await this.pool.query('SELECT * FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, n',
      [rows.map((r) => r.id)]);
    const byDelivery = attemptsByDelivery(attempts);
    return rows.map((r) => mapDelivery(r, byDelivery.get(r.id as string) ?? []));
  }
}
