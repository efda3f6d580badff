import { Type } from 'typebox';
import { NullableTimestamp, PageQuery, Timestamp } from './common.js';
import { NO_NUL_PATTERN } from './patterns.js';

/** Prepaid credits: a group's grants, what is left of each, and its balance. */

export const GRANT_STATUSES = ['active', 'expired', 'voided', 'exhausted'] as const;

export const CreditGrantSchema = Type.Object({
  id: Type.String(),
  group_id: Type.String(),
  amount: Type.Integer({ description: 'Credits granted.' }),
  used: Type.Integer({ description: 'Credits of this grant consumed so far.' }),
  remaining: Type.Integer({ description: 'amount − used.' }),
  priority: Type.Integer({ description: 'Grants are spent highest priority first, then the one that expires first, then the oldest.' }),
  expires_at: Type.Union([Timestamp, Type.Null()], { description: 'When what is left of it stops counting; null: never.' }),
  note: Type.Union([Type.String(), Type.Null()]),
  idempotency_key: Type.Union([Type.String(), Type.Null()]),
  source: Type.Enum(['manual', 'period'], { description: "`manual`: granted through the API; `period`: the plan's grant of a billing period (or what it carried over)." }),
  created_at: Timestamp,
  voided_at: NullableTimestamp,
  status: Type.Enum([...GRANT_STATUSES], {
    description: '`voided` once voided, else `expired` past its expiry, else `exhausted` when nothing is left, else `active`.',
  }),
}, { $id: 'CreditGrant' });

/** `POST /admin/groups/{group_id}/grants`. */
export const NewGrantBody = Type.Object({
  amount: Type.Integer({ minimum: 1, maximum: 1e15, description: 'Credits to grant, a whole number from 1.' }),
  expires_at: Type.Optional(Type.String({
    format: 'date-time', description: 'When what is left of the grant stops counting: an RFC 3339 date-time with its offset, in the future. Default: never.',
  })),
  priority: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, description: 'Higher is spent first. Default 0.' })),
  note: Type.Optional(Type.String({ maxLength: 500, pattern: NO_NUL_PATTERN, description: 'Why it was granted, for people.' })),
  idempotency_key: Type.Optional(Type.String({
    minLength: 1, maxLength: 255, pattern: NO_NUL_PATTERN,
    description: "A retry with the same key and the same grant answers the first grant (200) instead of granting again; with another grant it is a 409. Keys are the group's own.",
  })),
}, { additionalProperties: false });

/** `GET /admin/groups/{group_id}/grants`. */
export const GrantListQuery = Type.Object({
  ...PageQuery.properties,
  include_voided: Type.Optional(Type.Enum(['true', 'false'], { description: 'List voided grants too. Default: false.' })),
});

/** A page of a group's grants, with its balance. */
export const GrantListSchema = Type.Object({
  items: Type.Array(Type.Ref('CreditGrant')),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` to get the next page; null on the last page.' }),
  balance: Type.Integer({ description: "What is left of the group's active grants, less its debt; below 0 when ingested usage overdrew it." }),
  debt: Type.Integer({ description: 'Credits consumed beyond the grants (by ingested events, which are never refused), repaid first from the next grant spent.' }),
});

/** A group's credits in its current billing period, in `GET /v1/usage` and the admin's usage query. */
export const CreditsUsageSchema = Type.Object({
  balance: Type.Integer({ description: "What is left of the group's active grants, less its debt: below 0 when ingested usage overdrew it." }),
  granted_this_period: Type.Integer({
    description: 'Credits granted in the current billing period (the grants made in it, voided ones left out, and the plan\'s recurring grant); what a rollover carried over from the last period is not counted again.',
  }),
  used_this_period: Type.Integer({
    description: "The period's units of each usage type at the plan's price per unit (credits.per_unit, as checks are charged), summed; ingested events included.",
  }),
  next_expiry: Type.Union([Timestamp, Type.Null()], { description: 'When credits next stop counting: the earliest expiry among the active grants with something left; null when none of them expires.' }),
});
