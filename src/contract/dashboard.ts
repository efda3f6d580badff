import { Type } from 'typebox';
import { LimitAnswerSchema } from './check.js';

/** The dashboard's own API under /dashboard/api: its session, the quota and limit gauges and the activity lists. */

/** `POST /dashboard/session`. */
export const SignInBody = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 512, description: 'The admin token (the provider) or an API key (a customer).' }),
}, { additionalProperties: false });

export const SessionAnswer = Type.Object({
  role: Type.Union([Type.Literal('admin'), Type.Literal('customer')]),
  csrf_token: Type.String({ description: 'Send it back in the x-csrf-token header of every request that changes something.' }),
  expires_at: Type.String({ description: 'When the session ends; sign in again then.' }),
  group_id: Type.Union([Type.String(), Type.Null()], { description: "The customer's group; null for the provider." }),
  app_id: Type.Union([Type.String(), Type.Null()]),
  key_id: Type.Union([Type.String(), Type.Null()]),
});

export const GroupGauge = Type.Object({
  group_id: Type.String(),
  name: Type.String(),
  plan_id: Type.String(),
  monthly_used: Type.Integer({ description: 'Units in the current billing period, from the rollups.' }),
  monthly_quota: Type.Integer({ description: '-1: no monthly quota.' }),
  rate_limit_per_minute: Type.Integer({ description: '-1: no limit.' }),
  period_start: Type.String(),
  period_end: Type.String(),
});

export const ActivityAnswer = Type.Object({
  top_consumers: Type.Array(Type.Object({
    group_id: Type.String(),
    monthly_used: Type.Integer(),
    monthly_quota: Type.Integer(),
    period_start: Type.String(),
    seen_at: Type.String({ description: "When a check last reported the group's total." }),
  }), { description: 'Groups with the most units in their current billing period, as the checks this instance decided since it started reported them.' }),
  recent_denials: Type.Array(Type.Object({
    at: Type.String(),
    group_id: Type.String(),
    app_id: Type.String(),
    key_id: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.Literal('rate_limited'), Type.Literal('quota_exceeded'), Type.Literal('insufficient_credits')]),
  }), { description: 'The last refused calls this instance decided (up to 100 kept), newest first.' }),
});

export const ActivityQuery = Type.Object({ limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: 'Entries per list, 1 to 100 (default 10).' })) });

export const GroupLimitsAnswer = Type.Object({
  group_id: Type.String(),
  limits: Type.Array(LimitAnswerSchema, {
    description: "Every limit on the group as a whole (scope `group`: the plan's, the group's own, the shorthand `minute` and `month`), its overrides applied, with its use now; lifted and unlimited ones left out. Reading them consumes nothing.",
  }),
});
