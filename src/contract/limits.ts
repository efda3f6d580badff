import { Type } from 'typebox';
import { LIMIT_SCOPES, LIMIT_WINDOWS, type LimitScope } from '../domain/limits.js';
import { Id, UsageType } from './common.js';
import { ID_PATTERN } from './patterns.js';

/**
 * Named limits, per-customer overrides and a plan's credits, as plans,
 * groups and apps carry them on the wire. What the schemas cannot say
 * (unique names, reserved names, overrides of known limits) is checked by
 * src/metering/limit-rules.ts.
 */

/** Units of a limit: whole, 0 to a trillion. */
export const MAX_LIMIT_UNITS = 1e12;
/** At most this many named limits on a plan, a group or an app. */
export const MAX_LIMITS = 50;

const Units = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_LIMIT_UNITS, description });
const Window = Type.Enum([...LIMIT_WINDOWS], {
  description: '`second`, `minute`, `hour`, `day`: sliding windows (no double burst at an edge); `billing_period`: the plan\'s billing month in its time zone.',
});
const UsageTypes = Type.Union([
  Type.Array(UsageType('A usage type.'), { minItems: 1, maxItems: 50, uniqueItems: true }),
  Type.Null(),
], { description: 'The usage types it counts; null or absent: all of them.' });

/** A named limit as an answer shows it: every field present. */
export const LimitSchema = Type.Object({
  name: Type.String(),
  usage_types: UsageTypes,
  window: Window,
  units: Type.Integer({ description: 'Units per window.' }),
  scope: Type.Enum([...LIMIT_SCOPES], { description: "Whose counter: the group's (shared by its apps and keys), each app's, or each key's." }),
}, { description: 'A named limit.' });

const limitInput = (scopes: readonly LimitScope[], defaultScope: LimitScope, description: string) => Type.Object({
  name: Id('Unique among the limits that apply together; not one of the shorthand names minute, month, app-minute, app-month.'),
  usage_types: Type.Optional(UsageTypes),
  window: Window,
  units: Units('Units per window, 0 to 1e12.'),
  scope: Type.Optional(Type.Enum([...scopes], { description: `Whose counter; default ${defaultScope}.` })),
}, { additionalProperties: false, description });

/** A plan's or a group's limit in a request: scope `group` by default. */
export const LimitInput = limitInput(LIMIT_SCOPES, 'group', 'A named limit; `scope` defaults to `group`.');
/** An app's own limit in a request: scope `app` (the default) or `key`; a group-wide limit belongs on the group. */
export const AppLimitInput = limitInput(['app', 'key'], 'app', "An app's own limit: scope `app` (default) or `key`.");

export const Limits = (item: typeof LimitInput | typeof AppLimitInput, description: string) =>
  Type.Array(item, { maxItems: MAX_LIMITS, description });

/** Overrides: limit name → new units, or null to lift the limit for this customer. */
export const LimitOverrides = Type.Record(Type.String({ pattern: ID_PATTERN }), Type.Union([Units('New units for the limit.'), Type.Null()]), {
  additionalProperties: false, maxProperties: 200,
  description: "The customer's own deal: limit name (the plan's, the shorthand minute, month, app-minute, app-month, or a group's own) → new units, or null to lift it. Replaces the whole map on a change.",
});

/** Overrides as an answer shows them (`{}`: none). */
export const LimitOverridesSchema = Type.Record(Type.String(), Type.Union([Type.Integer(), Type.Null()]), {
  description: "The customer's own deal: limit name → new units, or null where the limit is lifted.",
});

/** A usage type's key in `per_unit`, or `*` for every usage type not listed. */
const PER_UNIT_KEY = `^(\\*|${ID_PATTERN.slice(1, -1)})$`;

const PER_UNIT = 'Credits per unit of each usage type, whole numbers (credits are never fractional); `*`: every type not listed. A type with no price and no `*` costs nothing.';
const PerUnit = Type.Record(Type.String({ pattern: PER_UNIT_KEY }), Type.Integer({ minimum: 0, maximum: MAX_LIMIT_UNITS }), {
  additionalProperties: false, maxProperties: 200, description: PER_UNIT,
});
const GrantAmount = Type.Integer({ minimum: 1, maximum: MAX_LIMIT_UNITS, description: 'Credits granted at the start of each billing period (whole).' });
const Rollover = Type.Union([Type.Enum(['none', 'all']), Type.Integer({ minimum: 0, maximum: MAX_LIMIT_UNITS })], {
  description: "What is left of the last period's grant: `none` expires at the period's end, `all` never expires, a number keeps at most that much.",
});

/** A plan's credits as an answer shows them. */
export const CreditsSchema = Type.Object({
  per_unit: Type.Record(Type.String(), Type.Integer(), { description: PER_UNIT }),
  grant_every_period: Type.Union([
    Type.Object({ amount: GrantAmount, rollover: Rollover }),
    Type.Null(),
  ], { description: 'A grant issued at the start of each billing period; null: none.' }),
}, { description: 'What usage costs in credits, and a recurring grant.' });

/** A plan's credits in a request; `grant_every_period.rollover` defaults to `none`. */
export const CreditsInput = Type.Object({
  per_unit: PerUnit,
  grant_every_period: Type.Optional(Type.Union([
    Type.Object({ amount: GrantAmount, rollover: Type.Optional(Rollover) }, { additionalProperties: false }),
    Type.Null(),
  ], { description: 'A grant issued at the start of each billing period (rollover default `none`); null or absent: none.' })),
}, { additionalProperties: false, description: 'What usage costs in credits, and a recurring grant; null: the plan uses no credits.' });
