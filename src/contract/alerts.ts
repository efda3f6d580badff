import { Type } from 'typebox';
import { ALERT_KINDS } from '../domain/alerts.js';
import { Id, NullableTimestamp, Timestamp } from './common.js';
import { HTTP_URL_PATTERN } from './patterns.js';

/** Usage alerts: per-group settings, the webhook endpoints they are sent to, and the log of deliveries. */

export const AlertKindSchema = Type.Enum([...ALERT_KINDS]);
const Kind = AlertKindSchema;

/** When a group's balance counts as low: under an amount of credits, or under a share of its last grant's amount. */
export const CreditsLowSchema = Type.Union([
  Type.Object({
    below: Type.Integer({ minimum: 1, maximum: 1e15, description: 'credits_low fires when the balance falls under this many credits.' }),
  }, { additionalProperties: false }),
  Type.Object({
    below_share: Type.Number({
      exclusiveMinimum: 0, maximum: 1,
      description: "credits_low fires when the balance falls under this share (over 0, at most 1) of the amount of the group's last grant.",
    }),
  }, { additionalProperties: false }),
  Type.Null(),
], { description: 'When credits_low fires, once per billing period: {"below": credits}, {"below_share": 0..1 of the last grant}, or null (never).' });

export const AlertSettingsSchema = Type.Object({
  group_id: Type.String(),
  thresholds: Type.Array(Type.Integer(), { description: 'Percentages of the monthly quota and of each billing_period named limit, ascending.' }),
  kinds: Type.Array(Kind, { description: 'The kinds of alert that fire for this group.' }),
  credits_low: CreditsLowSchema,
  defaults: Type.Boolean({ description: 'True while the group has set nothing and the defaults apply.' }),
  updated_at: NullableTimestamp,
}, { $id: 'AlertSettings' });

/** `PUT /admin/groups/{group_id}/alert-settings`. */
export const AlertSettingsBody = Type.Object({
  thresholds: Type.Array(Type.Integer({ minimum: 1, maximum: 1000 }), {
    maxItems: 20,
    description: 'Percentages of the monthly quota and of each billing_period named limit (1 to 1000; above 100 for usage past the quota, e.g. ingested).',
  }),
  kinds: Type.Array(Kind, { description: 'The kinds that fire; [] turns alerts off for the group.' }),
  credits_low: Type.Optional(CreditsLowSchema),
}, { additionalProperties: false });

export const WebhookEndpointSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  group_ids: Type.Union([Type.Array(Type.String()), Type.Null()], { description: "Only these groups' alerts are sent; null: every group's." }),
  description: Type.String(),
  created_at: Timestamp,
  deleted_at: Type.Union([Timestamp, Type.Null()], { description: 'When it was deleted; nothing is sent to it since.' }),
}, { $id: 'WebhookEndpoint' });

/** `POST /admin/webhooks`. */
export const NewWebhookBody = Type.Object({
  url: Type.String({
    minLength: 1, maxLength: 2048, format: 'uri', pattern: HTTP_URL_PATTERN,
    description: 'Where alerts are POSTed: an absolute http or https URL, e.g. https://example.com/hooks/tollgate.',
  }),
  group_ids: Type.Optional(Type.Array(Id('A group id.'), { minItems: 1, maxItems: 1000, description: "Send only these groups' alerts; default: every group's." })),
  description: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false });

/** A webhook endpoint just created, with its signing secret. */
export const CreatedWebhookSchema = Type.Intersect([WebhookEndpointSchema, Type.Object({
  secret: Type.String({ description: 'The signing secret (whsec_ and the base64 of the key, as Standard Webhooks writes them) of the webhook-signature and Tollgate-Signature headers. Store it now: it is not shown again.' }),
})]);

export const WebhookDeliverySchema = Type.Object({
  id: Type.String(),
  alert_id: Type.String(),
  endpoint_id: Type.String(),
  group_id: Type.String(),
  type: Kind,
  url: Type.String(),
  status: Type.Enum(['pending', 'delivered', 'failed'], { description: 'pending until a 2xx answer (delivered) or 24 hours of failed attempts (failed).' }),
  created_at: Timestamp,
  next_attempt_at: Type.Union([Timestamp, Type.Null()]),
  replay_of: Type.Union([Type.String(), Type.Null()], { description: 'The delivery this one replays.' }),
  event: Type.Object({
    id: Type.String(),
    type: Kind,
    created_at: Timestamp,
    group_id: Type.String(),
    data: Type.Object({}, { additionalProperties: true }),
  }, { description: 'The body sent, parsed.' }),
  attempts: Type.Array(Type.Object({
    at: Timestamp,
    duration_ms: Type.Integer(),
    status_code: Type.Union([Type.Integer(), Type.Null()], { description: "The receiver's HTTP status; null when it did not answer." }),
    error: Type.Union([Type.String(), Type.Null()]),
  })),
}, { $id: 'WebhookDelivery' });
