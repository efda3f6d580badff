import type { Alert, WebhookEndpoint } from './alerts.js';
import { ConflictError, NotFoundError } from './errors.js';
import { newSortableId } from './secrets.js';

/**
 * The outbox's rules, written once for every store (each store keeps only
 * its SQL): which endpoints an alert fans out to, what a replay is and when
 * it is refused, how deliveries are named, and what is refused with which error.
 */

/** A delivery to insert: pending, no attempt yet, due at `dueAt`. */
export interface NewDelivery {
  id: string;
  alertId: string;
  endpointId: string;
  groupId: string;
  dueAt: number;
  /** The delivery this one sends again; null for an alert's own. */
  replayOf: string | null;
  createdAt: number;
}

/** Whether the endpoint takes the group's alerts. */
export function endpointTakes(endpoint: WebhookEndpoint, groupId: string): boolean {
  return endpoint.disabledAt === null && (endpoint.groupIds === null || endpoint.groupIds.includes(groupId));
}

/** An alert's deliveries: one to each active endpoint that takes its group, due at once. */
export function fanOut(alert: Alert, endpoints: readonly WebhookEndpoint[]): NewDelivery[] {
  return endpoints.filter((e) => endpointTakes(e, alert.groupId)).map((endpoint) => ({
    id: newSortableId('dlv', alert.createdAt), alertId: alert.id, endpointId: endpoint.id, groupId: alert.groupId,
    dueAt: alert.createdAt, replayOf: null, createdAt: alert.createdAt,
  }));
}

/**
 * A new delivery of the same alert to the same endpoint, due at once; an
 * endpoint that was deleted takes no more (ConflictError).
 */
export function replayOf(
  original: { id: string; alertId: string; endpointId: string; groupId: string }, endpoint: WebhookEndpoint, now: number,
): NewDelivery {
  if (endpoint.disabledAt !== null) throw new ConflictError(`Webhook endpoint "${endpoint.id}" was deleted: its deliveries cannot be replayed.`);
  return {
    id: newSortableId('dlv', now), alertId: original.alertId, endpointId: original.endpointId, groupId: original.groupId,
    dueAt: now, replayOf: original.id, createdAt: now,
  };
}

/** The refusals of the alert store, worded once. */
export const alertRefusals = {
  noGroup: (id: string) => new NotFoundError(`No group with id "${id}".`),
  noEndpoint: (id: string) => new NotFoundError(`No webhook endpoint with id "${id}".`),
  noDelivery: (id: string) => new NotFoundError(`No webhook delivery with id "${id}".`),
  endpointTaken: (id: string) => new ConflictError(`A webhook endpoint with id "${id}" already exists.`),
};
