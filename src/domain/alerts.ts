/**
 * Usage alerts and their webhook deliveries: what is stored, what the admin
 * API shows. Times are milliseconds since the epoch.
 */

/**
 * - `quota_threshold`: a group's (or an app's own) monthly usage, or the
 *   usage against a named limit of window `billing_period`, reached a
 *   percentage of its units;
 * - `rate_limit_hit`: a check of the group was refused by a per-minute limit;
 * - `key_expiring`: one of the group's keys expires soon;
 * - `credits_low`: the group's credit balance fell under the line its
 *   settings draw (`creditsLow`);
 * - `credits_exhausted`: the balance reached 0 or less, or a check was
 *   refused for want of credits.
 */
export type AlertKind = 'quota_threshold' | 'rate_limit_hit' | 'key_expiring' | 'credits_low' | 'credits_exhausted';
export const ALERT_KINDS: readonly AlertKind[] = ['quota_threshold', 'rate_limit_hit', 'key_expiring', 'credits_low', 'credits_exhausted'];

/**
 * Where a group's balance counts as low: under a number of credits, or
 * under a share (0 to 1) of the amount of its last grant.
 */
export type CreditsLow = { below: number } | { belowShare: number };

/** What a group wants to hear about; groups that set nothing get DEFAULT_ALERT_SETTINGS. */
export interface AlertSettings {
  groupId: string;
  /** Percentages of the monthly quota, ascending, each from 1 to 1000. */
  thresholds: number[];
  /** The kinds that fire; the others never do. */
  kinds: AlertKind[];
  /** When `credits_low` fires; null: never. */
  creditsLow: CreditsLow | null;
  updatedAt: number;
}

export const DEFAULT_THRESHOLDS: readonly number[] = [80, 100];

export function defaultAlertSettings(groupId: string): AlertSettings {
  return { groupId, thresholds: [...DEFAULT_THRESHOLDS], kinds: [...ALERT_KINDS], creditsLow: null, updatedAt: 0 };
}

/**
 * One alert, recorded once: a second alert with the same group, kind,
 * subject, threshold and period start is not recorded again, whichever
 * instance raises it and whenever.
 */
export interface Alert {
  id: string;
  groupId: string;
  kind: AlertKind;
  /**
   * What in the group it is about: '' for the group itself (and its
   * credits), an app id (its own quota), a key id (expiring), or a named
   * limit (`limitSubject`, src/domain/alert-triggers.ts).
   */
  subject: string;
  /** The percentage for `quota_threshold`; 0 for the other kinds. */
  threshold: number;
  /** The alert fires once per this: the billing period's start, or the expiring key's expiry time. */
  periodStart: number;
  createdAt: number;
  /** The webhook body, exactly as it is signed and sent (every delivery of the alert sends the same bytes). */
  body: string;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Only alerts of these groups are sent to it; null: every group's. */
  groupIds: string[] | null;
  description: string;
  createdAt: number;
  /** When it was deleted: nothing is sent to it any more. Null while active. */
  disabledAt: number | null;
}

export type NewWebhookEndpoint = Omit<WebhookEndpoint, 'disabledAt'>;

/** `pending` until it is delivered (a 2xx answer) or given up on (`failed`). */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryAttempt {
  at: number;
  durationMs: number;
  /** The receiver's HTTP status; null when there was no answer (refused, timed out). */
  statusCode: number | null;
  /** Why the attempt failed; null when it succeeded. */
  error: string | null;
}

/** One alert sent to one endpoint, with every attempt made so far. */
export interface WebhookDelivery {
  id: string;
  alertId: string;
  endpointId: string;
  groupId: string;
  kind: AlertKind;
  url: string;
  status: DeliveryStatus;
  createdAt: number;
  /** When the next attempt is due; null once delivered or failed. */
  nextAttemptAt: number | null;
  /** The delivery this one replays, or null. */
  replayOf: string | null;
  body: string;
  attempts: DeliveryAttempt[];
}

/** A delivery taken by one deliverer, leased to it so that no other instance sends it at the same time. */
export interface ClaimedDelivery {
  id: string;
  url: string;
  endpointId: string;
  body: string;
  createdAt: number;
  /** Attempts made before this one. */
  attempts: number;
}

/** What happens to a delivery after an attempt. */
export type DeliveryNext = { status: 'delivered' } | { status: 'failed' } | { status: 'pending'; nextAttemptAt: number };
