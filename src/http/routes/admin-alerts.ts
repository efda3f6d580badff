import { Type, type Static } from 'typebox';
import { ALERT_KINDS, defaultAlertSettings, type AlertKind, type AlertSettings, type CreditsLow, type WebhookDelivery, type WebhookEndpoint } from '../../domain/alerts.js';
import { newId } from '../../domain/secrets.js';
import { creditsLowJson } from '../../domain/alert-triggers.js';
import { ApiError } from '../../errors.js';
import type { Services } from '../../services.js';
import {
  AlertSettingsBody, AlertSettingsSchema, CreatedWebhookSchema, NewWebhookBody, WebhookDeliverySchema, WebhookEndpointSchema,
} from '../../contract/alerts.js';
import { page, PageQuery } from '../../contract/common.js';
import { answer, errors } from '../answers.js';
import { pageRequest } from '../to-wire.js';
import type { TypedApp } from '../typed-app.js';

const GroupParams = Type.Object({ group_id: Type.String() });
const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

function settingsJson(s: AlertSettings, defaults: boolean): Static<typeof AlertSettingsSchema> {
  return {
    group_id: s.groupId, thresholds: s.thresholds, kinds: s.kinds, credits_low: s.creditsLow === null ? null : creditsLowJson(s.creditsLow),
    defaults, updated_at: defaults ? null : iso(s.updatedAt),
  };
}

function creditsLowOf(body: Static<typeof AlertSettingsBody>['credits_low']): CreditsLow | null {
  if (body === undefined || body === null) return null;
  return 'below' in body ? { below: body.below } : { belowShare: body.below_share };
}

function endpointJson(e: WebhookEndpoint): Static<typeof WebhookEndpointSchema> {
  return { id: e.id, url: e.url, group_ids: e.groupIds, description: e.description, created_at: iso(e.createdAt), deleted_at: isoOrNull(e.disabledAt) };
}

function deliveryJson(d: WebhookDelivery): Static<typeof WebhookDeliverySchema> {
  return {
    id: d.id, alert_id: d.alertId, endpoint_id: d.endpointId, group_id: d.groupId, type: d.kind, url: d.url, status: d.status,
    created_at: iso(d.createdAt), next_attempt_at: isoOrNull(d.nextAttemptAt), replay_of: d.replayOf,
    event: JSON.parse(d.body) as Static<typeof WebhookDeliverySchema>['event'],
    attempts: d.attempts.map((a) => ({ at: iso(a.at), duration_ms: a.durationMs, status_code: a.statusCode, error: a.error })),
  };
}

/** An http or https URL, or a 400 that says what is wrong with it. */
function webhookUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ApiError('invalid_request', 'body field "url" must be an absolute URL such as https://example.com/hooks/tollgate.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ApiError('invalid_request', `body field "url" must be an http or https URL, not ${url.protocol.replace(/:$/, '')}.`);
  }
  return url.toString();
}

/** Usage alerts: per-group settings, the webhook endpoints they are sent to, and the log of deliveries. */
export function adminAlertRoutes(app: TypedApp, services: Services): void {
  const { store, clock, alerts } = services;

  app.get('/admin/groups/:group_id/alert-settings', {
    schema: {
      operationId: 'getAlertSettings', tags: ['alerts'], summary: "A group's alert settings (the defaults until it sets its own)", params: GroupParams,
      response: { 200: answer("The group's alert settings, or the defaults (`defaults: true`) while it has set none.", Type.Ref('AlertSettings')), ...errors(401, 404) },
    },
  }, async (request) => {
    const own = await store.alerts.getAlertSettings(request.params.group_id);
    return own === null ? settingsJson(defaultAlertSettings(request.params.group_id), true) : settingsJson(own, false);
  });

  app.put('/admin/groups/:group_id/alert-settings', {
    schema: {
      operationId: 'setAlertSettings', tags: ['alerts'], summary: "Set a group's alert thresholds, the kinds of alert that fire and when its credits are low (credits_low absent: none)", params: GroupParams,
      body: AlertSettingsBody,
      response: { 200: answer("The group's settings as saved (thresholds sorted, duplicates dropped).", Type.Ref('AlertSettings')), ...errors(400, 401, 404, 413, 415) },
    },
  }, async (request) => {
    const thresholds = [...new Set(request.body.thresholds)].sort((a, b) => a - b);
    const kinds = ALERT_KINDS.filter((k) => request.body.kinds.includes(k));
    const saved = await store.alerts.putAlertSettings({
      groupId: request.params.group_id, thresholds, kinds: kinds as AlertKind[], creditsLow: creditsLowOf(request.body.credits_low), updatedAt: clock.now(),
    });
    alerts.settings.settingsChanged(saved);
    return settingsJson(saved, false);
  });

  app.post('/admin/webhooks', {
    schema: {
      operationId: 'createWebhook', tags: ['alerts'], summary: 'Create a webhook endpoint (its signing secret is in this answer only)',
      body: NewWebhookBody,
      response: {
        201: answer('The webhook endpoint, created, with its signing secret.', CreatedWebhookSchema),
        ...errors(400, 401, 404, 413, 415),
      },
    },
  }, async (request, reply) => {
    const url = webhookUrl(request.body.url);
    const groupIds = request.body.group_ids === undefined ? null : [...new Set(request.body.group_ids)];
    for (const id of groupIds ?? []) {
      if ((await store.getGroup(id)) === null) throw new ApiError('not_found', `No group with id "${id}".`);
    }
    const endpoint = await store.alerts.createWebhookEndpoint({
      id: newId('whe'), url, groupIds, description: request.body.description ?? '', createdAt: clock.now(),
    });
    return reply.code(201).send({ ...endpointJson(endpoint), secret: alerts.signingSecret(endpoint.id) });
  });

  app.get('/admin/webhooks', {
    schema: {
      operationId: 'listWebhooks', tags: ['alerts'], summary: 'List webhook endpoints (never their secrets)', querystring: PageQuery,
      response: { 200: answer('A page of webhook endpoints, by id, deleted ones included.', page(Type.Ref('WebhookEndpoint'))), ...errors(400, 401) },
    },
  }, async (request) => {
    const result = await store.alerts.listWebhookEndpoints(pageRequest(request.query));
    return { items: result.items.map(endpointJson), next: result.next };
  });

  app.get('/admin/webhooks/:webhook_id', {
    schema: {
      operationId: 'getWebhook', tags: ['alerts'], summary: 'Show a webhook endpoint', params: Type.Object({ webhook_id: Type.String() }),
      response: { 200: answer('The webhook endpoint (never its secret).', Type.Ref('WebhookEndpoint')), ...errors(401, 404) },
    },
  }, async (request) => {
    const endpoint = await store.alerts.getWebhookEndpoint(request.params.webhook_id);
    if (endpoint === null) throw new ApiError('not_found', `No webhook endpoint with id "${request.params.webhook_id}".`);
    return endpointJson(endpoint);
  });

  app.delete('/admin/webhooks/:webhook_id', {
    schema: {
      operationId: 'deleteWebhook', tags: ['alerts'], summary: 'Delete a webhook endpoint: nothing more is sent to it, its pending deliveries fail',
      params: Type.Object({ webhook_id: Type.String() }),
      response: { 200: answer('The webhook endpoint, deleted (`deleted_at` set).', Type.Ref('WebhookEndpoint')), ...errors(401, 404) },
    },
  }, async (request) => endpointJson(await store.alerts.disableWebhookEndpoint(request.params.webhook_id, clock.now())));

  app.get('/admin/groups/:group_id/webhook-deliveries', {
    schema: {
      operationId: 'listWebhookDeliveries', tags: ['alerts'], summary: "A group's webhook deliveries with their attempts, newest first", params: GroupParams, querystring: PageQuery,
      response: { 200: answer("A page of the group's deliveries, newest first, each with its attempts.", page(Type.Ref('WebhookDelivery'))), ...errors(400, 401, 404) },
    },
  }, async (request) => {
    if ((await store.getGroup(request.params.group_id)) === null) throw new ApiError('not_found', `No group with id "${request.params.group_id}".`);
    const result = await store.alerts.listDeliveries(request.params.group_id, pageRequest(request.query));
    return { items: result.items.map(deliveryJson), next: result.next };
  });

  app.get('/admin/webhook-deliveries/:delivery_id', {
    schema: {
      operationId: 'getWebhookDelivery', tags: ['alerts'], summary: 'Show a webhook delivery with its attempts', params: Type.Object({ delivery_id: Type.String() }),
      response: { 200: answer('The delivery, with the body sent and every attempt.', Type.Ref('WebhookDelivery')), ...errors(401, 404) },
    },
  }, async (request) => {
    const delivery = await store.alerts.getDelivery(request.params.delivery_id);
    if (delivery === null) throw new ApiError('not_found', `No webhook delivery with id "${request.params.delivery_id}".`);
    return deliveryJson(delivery);
  });

  app.post('/admin/webhook-deliveries/:delivery_id/replay', {
    schema: {
      operationId: 'replayWebhookDelivery', tags: ['alerts'], summary: 'Send a delivery again: a new delivery of the same alert to the same endpoint, due now',
      params: Type.Object({ delivery_id: Type.String() }),
      response: { 201: answer('The new delivery, pending, due now.', Type.Ref('WebhookDelivery')), ...errors(401, 404, 409) },
    },
  }, async (request, reply) => {
    const replay = await store.alerts.replayDelivery(request.params.delivery_id, clock.now());
    alerts.deliverNow();
    return reply.code(201).send(deliveryJson(replay));
  });
}
