import { LimitAnswerSchema } from './check.js';
import { Type, type Static } from 'typebox';
import { TIMESPANS } from '../domain/periods.js';
import { USAGE_DIMENSIONS } from '../domain/types.js';
import { DateOrDateTime, TimeZoneName } from './common.js';
import { CreditsUsageSchema } from './credits.js';

/** The usage APIs: `GET /v3/ocr-usage` (and the admin's query over any group) and `GET /v1/usage`. */

export const UsageQueryString = Type.Object({
  from_date: Type.Optional(DateOrDateTime('Start, included: an ISO 8601 date-time or date, between the years 1970 and 9999; without an offset it is read in the query\'s time zone. Default: start of the current billing month.')),
  to_date: Type.Optional(DateOrDateTime('End, excluded, after from_date: an ISO 8601 date-time or date, between the years 1970 and 9999. Default: now.')),
  group_by: Type.Optional(Type.Enum(USAGE_DIMENSIONS, { description: 'Default: usage_type.' })),
  timespan: Type.Optional(Type.Enum(TIMESPANS, { description: 'Length of each period. Default: month.' })),
  tz: Type.Optional(TimeZoneName("IANA zone that aligns the periods, e.g. \"America/New_York\" (an unknown zone is refused). Default: the plan's time zone.")),
  format: Type.Optional(Type.Enum(['json', 'csv'], { description: 'Answer as JSON or CSV. Default: JSON, or CSV when the Accept header prefers text/csv.' })),
});
export type UsageQueryString = Static<typeof UsageQueryString>;

export const UsageRecordSchema = Type.Object({
  from_date: Type.String({ description: 'Start of the period (or the query from_date, for a first period that began earlier).' }),
  app_id: Type.String({ description: 'The app; "" when the record spans several apps.' }),
  group_id: Type.String(),
  usage_type: Type.String({ description: 'The service kind; "" when the record spans several.' }),
  request_args_hash: Type.String({ description: 'SHA-1 of the canonical request arguments; "" for none, or when the record spans several.' }),
  count: Type.Integer(),
});

export const OcrUsageAnswer = Type.Object({ ocr_usage: Type.Array(UsageRecordSchema) });

export const CurrentUsageAnswer = Type.Object({
  monthly_used: Type.Integer({ description: 'Units used in the current billing period.' }),
  monthly_quota: Type.Integer({ description: 'Monthly quota; -1 means no monthly quota.' }),
  rate_limit_per_minute: Type.Integer({ description: 'Allowed units per minute; -1 means no limit.' }),
  period_start: Type.String(),
  period_end: Type.String(),
  current_charges: Type.Optional(Type.Object({
    period: Type.String({ description: 'The billing month, YYYY-MM.' }),
    currency: Type.String({ description: 'ISO 4217 code.' }),
    amount: Type.Integer({ description: "In minor units (cents): this period's statement so far, at the plan's prices." }),
    amount_decimal: Type.String({ description: 'The amount as a decimal, e.g. "12.34".' }),
  }, { description: "An addition to Paperguide's fields: what the current period's statement amounts to so far; left out while the usage store cannot be reached." })),
  limits: Type.Array(LimitAnswerSchema, { description: "An addition to Paperguide's fields: every limit that binds the caller's key (the shorthand ones under their names minute, month, app-minute, app-month), with its use." }),
  credits: Type.Optional(Type.Object(CreditsUsageSchema.properties, {
    description: "An addition to Paperguide's fields: the group's prepaid credits in the current billing period. Left out when the plan uses no credits, and while the usage store cannot be reached.",
  })),
});

/** The admin's usage query over a group (`GET /admin/groups/{group_id}/usage`): the same records, and the group's credits. */
export const GroupUsageAnswer = Type.Object({
  ocr_usage: Type.Array(UsageRecordSchema),
  credits: Type.Optional(Type.Object(CreditsUsageSchema.properties, {
    description: "The group's prepaid credits in its current billing period, whatever the query's dates. Left out when its plan uses no credits.",
  })),
});
