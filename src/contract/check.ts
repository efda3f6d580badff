import { Type, type Static } from 'typebox';
import { Id } from './common.js';
import { NO_NUL_PATTERN } from './patterns.js';
import { LIMIT_SCOPES, LIMIT_WINDOWS } from '../domain/limits.js';

/** `POST /v1/check`: what it accepts and what it answers, for the route, the gateway and the SDK's embedded mode alike. */

const Secret = Type.String({ minLength: 1, maxLength: 256 });

/** What `POST /v1/check` accepts; the SDK's embedded mode checks its input against it too. */
export const CheckBody = Type.Object({
  key: Type.Optional(Type.String({ ...Secret, description: "The customer's API key, as they sent it (e.g. in x-api-key). Or send app_id and app_key." })),
  app_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "The key's app (Mathpix style), with app_key; used when key is absent." })),
  app_key: Type.Optional(Type.String({ ...Secret, description: "The customer's API key (Mathpix style), with app_id; used when key is absent." })),
  usage_type: Id('Service kind, e.g. "image" or "image-async".'),
  cost: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, default: 1, description: 'Units this call consumes.' })),
  request_args: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Arguments of the call; hashed into request_args_hash.' })),
  idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: NO_NUL_PATTERN, description: 'A retry with the same key gets the first answer and is counted once.' })),
}, {
  additionalProperties: false,
  description: "The customer's credentials are `key`, or `app_id` and `app_key` (`key` is used when both are sent). "
    + 'A body with neither is not refused: it is answered like a wrong key, `allowed: false` with `code: unauthorized`.',
  examples: [
    { key: 'tg_F5CaRruWhC4ia3MhGuT1M1fYcTNos8esK', usage_type: 'image', request_args: { formats: ['text'] } },
    { app_id: 'acme-ocr', app_key: 'tg_F5CaRruWhC4ia3MhGuT1M1fYcTNos8esK', usage_type: 'image-async', cost: 5, idempotency_key: 'job-7f3a' },
  ],
});

const RateLimitState = Type.Object({
  limit: Type.Integer({ description: 'Units per minute; -1: unlimited.' }),
  remaining: Type.Integer(),
  reset: Type.Integer({ description: 'Seconds until the window is empty again.' }),
});

const LimitAnswer = Type.Object({
  name: Type.String({ description: 'The limit\'s name: `minute`, `month`, `app-minute` and `app-month` are the shorthand fields.' }),
  window: Type.Enum(LIMIT_WINDOWS, { description: 'A sliding window, or the plan\'s billing period.' }),
  scope: Type.Enum(LIMIT_SCOPES, { description: 'Whose counter: the group\'s, the app\'s or the key\'s.' }),
  units: Type.Integer({ description: 'Units per window.' }),
  used: Type.Integer({ description: 'Units counted in the window (a sliding window\'s weighted count, rounded up).' }),
  remaining: Type.Integer(),
  reset: Type.Integer({ description: 'Seconds until the window holds nothing counted; for a billing period, until it ends.' }),
});

export const CHECK_CODES = ['ok', 'rate_limited', 'quota_exceeded', 'insufficient_credits', 'unauthorized'] as const;

/** The check's answer, field for field: one definition for the HTTP route, the gateway's refusals, the SDK's embedded mode and its types. */
export const CheckAnswerSchema = Type.Object({
  allowed: Type.Boolean(),
  code: Type.Enum(CHECK_CODES),
  message: Type.String(),
  group_id: Type.Union([Type.String(), Type.Null()]),
  app_id: Type.Union([Type.String(), Type.Null()]),
  key_id: Type.Union([Type.String(), Type.Null()]),
  monthly_used: Type.Union([Type.Integer(), Type.Null()], { description: "The group's units in the current billing period." }),
  monthly_quota: Type.Union([Type.Integer(), Type.Null()], { description: "The group's plan quota; -1: unlimited." }),
  rate_limit: Type.Union([RateLimitState, Type.Null()]),
  app: Type.Union([Type.Object({
    monthly_used: Type.Integer(),
    monthly_quota: Type.Integer({ description: "The app's own quota; -1: none." }),
    rate_limit_per_minute: Type.Integer({ description: "The app's own per-minute limit; -1: none." }),
  }), Type.Null()]),
  period: Type.Union([Type.Object({ from_date: Type.String(), to_date: Type.String() }), Type.Null()]),
  retry_after: Type.Union([Type.Integer(), Type.Null()], { description: 'Seconds until a retry can succeed; null when allowed or never.' }),
  request_args_hash: Type.Union([Type.String(), Type.Null()]),
  replayed: Type.Boolean({ description: 'True when this is the stored answer to an earlier call with the same idempotency_key.' }),
  limits: Type.Array(LimitAnswer, { description: 'Every limit that applied to the call, with what is left of it.' }),
  denied_by: Type.Union([Type.String(), Type.Null()], { description: 'The name of the limit that refused the call (`credits` when the balance could not cover it); null when allowed.' }),
  credits: Type.Union([Type.Object({
    charged: Type.Integer({ description: 'Credits this call took (0 when refused).' }),
    balance: Type.Integer({ description: "The group's balance after the call: what remains of its live grants, minus any debt (it can be negative)." }),
  }), Type.Null()], { description: "Present where the plan uses credits; null otherwise." }),
});

export type CheckAnswer = Static<typeof CheckAnswerSchema>;
export type RateLimitState = Static<typeof RateLimitState>;
export type LimitAnswer = Static<typeof LimitAnswer>;
export { LimitAnswer as LimitAnswerSchema };
