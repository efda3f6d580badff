import { Type } from 'typebox';
import { Id, Timestamp } from './common.js';
import { AppLimitInput, LimitInput, LimitOverrides, LimitOverridesSchema, Limits, LimitSchema } from './limits.js';

/** Groups (the provider's customers, each on one plan) and their apps, which hold keys and may have their own limits. */

export const GroupSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  plan_id: Type.String(),
  limit_overrides: LimitOverridesSchema,
  limits: Type.Array(LimitSchema, { description: "The group's own limits, added to its plan's." }),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { $id: 'Group' });

const GroupLimitFields = {
  limit_overrides: Type.Optional(LimitOverrides),
  limits: Type.Optional(Limits(LimitInput, "The group's own limits, added to its plan's (names unique, not the plan's); replaces the whole list on a change.")),
};

/** `POST /admin/groups`. */
export const NewGroupBody = Type.Object({
  id: Type.Optional(Id('Group id; generated when absent.')),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  plan_id: Type.String({ minLength: 1, maxLength: 64 }),
  ...GroupLimitFields,
}, { additionalProperties: false });

/** `PATCH /admin/groups/{group_id}`. */
export const GroupPatchBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  plan_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  ...GroupLimitFields,
}, { additionalProperties: false, minProperties: 1 });

export const AppSchema = Type.Object({
  app_id: Type.String(),
  group_id: Type.String(),
  name: Type.String(),
  monthly_quota: Type.Union([Type.Integer(), Type.Null()], { description: "The app's own monthly quota on top of its group's plan; null: none." }),
  rate_limit_per_minute: Type.Union([Type.Integer(), Type.Null()], { description: "The app's own per-minute limit on top of its group's plan; null: none." }),
  disabled_at: Type.Union([Timestamp, Type.Null()], { description: 'When the app was disabled (its keys refused, its events rejected); null while enabled.' }),
  limit_overrides: LimitOverridesSchema,
  limits: Type.Array(LimitSchema, { description: "The app's own limits (scope app or key), added to its plan's and group's." }),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { $id: 'App' });

const AppLimit = (description: string) => Type.Optional(Type.Union([Type.Integer({ minimum: -1, maximum: 1e15 }), Type.Null()], { description }));
const AppFields = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  monthly_quota: AppLimit("The app's own monthly quota, on top of its group's plan; null or absent: none."),
  rate_limit_per_minute: AppLimit("The app's own per-minute limit, on top of its group's plan; null or absent: none."),
  limit_overrides: Type.Optional(LimitOverrides),
  limits: Type.Optional(Limits(AppLimitInput, "The app's own limits, scope app (default) or key; names unique, not its plan's or group's; replaces the whole list on a change.")),
};

/** `POST /admin/groups/{group_id}/apps`. */
export const NewAppBody = Type.Object({ id: Type.Optional(Id('App id; generated when absent.')), ...AppFields }, { additionalProperties: false });

/** `PATCH /admin/apps/{app_id}`. */
export const AppPatchBody = Type.Object({
  ...AppFields,
  disabled: Type.Optional(Type.Boolean({ description: 'true disables the app (its keys and events are refused), false enables it again.' })),
}, { additionalProperties: false, minProperties: 1 });
