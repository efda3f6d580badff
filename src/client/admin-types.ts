import type { Static } from 'typebox';
import type { CreditGrantSchema, NewGrantBody } from '../contract/credits.js';
import type { AppPatchBody, AppSchema, GroupPatchBody, GroupSchema, NewAppBody, NewGroupBody } from '../contract/customers.js';
import type { CreatedKeySchema, CreatedServiceTokenSchema, KeySchema, NewKeyBody, ServiceTokenSchema } from '../contract/keys.js';
import type { NewPlanBody, PlanPatchBody, PlanSchema } from '../contract/plans.js';
import type { StatementSchema, StatementSummary as StatementSummarySchema } from '../contract/statements.js';
import type { Camel } from './wire.js';

/**
 * The admin API's entities and the fields to create or change them, derived
 * from the API's schemas (src/contract/) in camelCase. Times are ISO 8601
 * strings; limits are -1 where unlimited. Type imports only.
 */

export interface PageOptions {
  /** 1 to 1000; default 100. */
  limit?: number;
  /** The `next` of the previous page. */
  after?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last one. */
  next: string | null;
}

/**
 * Limits and prices that groups subscribe to; `prices` lists the usage types priced apart (flat or graduated),
 * `limits` the named limits beside the shorthand `monthlyQuota` and `rateLimitPerMinute`, `credits` what usage
 * costs in credits (null: none).
 */
export type Plan = Camel<Static<typeof PlanSchema>>;
/** `pricePerCall` and the prices are decimal strings such as "0.01"; `currency` defaults to USD, `timeZone` to UTC. */
export type NewPlan = Camel<Static<typeof NewPlanBody>>;
export type PlanPatch = Camel<Static<typeof PlanPatchBody>>;

/** A customer (account), on one plan; `limitOverrides` (limit name → units, null lifts it) and `limits` are its own deal. */
export type Group = Camel<Static<typeof GroupSchema>>;
/** `id` is generated (`grp_…`) when absent. */
export type NewGroup = Camel<Static<typeof NewGroupBody>>;
export type GroupPatch = Camel<Static<typeof GroupPatchBody>>;

/** A group's application; its own limits (null: none), overrides and named limits apply on top of the group's plan. */
export type App = Camel<Static<typeof AppSchema>>;
/** `id` is generated when absent. */
export type NewApp = Camel<Static<typeof NewAppBody>>;
/** null removes the app's own limit; `disabled: true` refuses its keys and events. */
export type AppPatch = Camel<Static<typeof AppPatchBody>>;

/** A customer's API key; `hint` is the first characters of the secret. */
export type Key = Camel<Static<typeof KeySchema>>;
/** A key just created: `key` is the secret, shown in this answer only. */
export type CreatedKey = Camel<Static<typeof CreatedKeySchema>>;
/** `expiresAt`: when the key stops working, in the future; default never. */
export type NewKey = Omit<Camel<Static<typeof NewKeyBody>>, 'expiresAt'> & { expiresAt?: Date | string };

/** A token for a provider's backend: the check API and events, not the admin API. */
export type ServiceToken = Camel<Static<typeof ServiceTokenSchema>>;
/** A service token just created: `token` is the secret, shown in this answer only. */
export type CreatedServiceToken = Camel<Static<typeof CreatedServiceTokenSchema>>;

/** A group's statement for one billing month: final once closed, a preview while open. Amounts in minor units and as decimals. */
export type Statement = Camel<Static<typeof StatementSchema>>;
/** A billing period in the list of a group's statements, with its total. */
export type StatementSummary = Camel<Static<typeof StatementSummarySchema>>;

/** Credits granted to a group: `remaining` is what is left of it; `status` is `active`, `expired`, `voided` or `exhausted`. */
export type CreditGrant = Camel<Static<typeof CreditGrantSchema>>;
/**
 * `amount`: a whole number from 1. `expiresAt`: in the future; default never. `priority`: higher is spent first (default 0).
 * `idempotencyKey`: a repeat with the same key and grant answers the first grant instead of granting again.
 */
export type NewGrant = Omit<Camel<Static<typeof NewGrantBody>>, 'expiresAt'> & { expiresAt?: Date | string };
/** A page of a group's grants, with the group's balance (below 0 when ingested usage overdrew it) and debt. */
export interface GrantPage extends Page<CreditGrant> {
  balance: number;
  debt: number;
}
