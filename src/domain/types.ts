import type { CreditsConfig } from './credits.js';
import type { LimitOverrides, LimitSpec } from './limits.js';

/**
 * The model: a group (an account) has a plan and owns apps; an app owns keys.
 * Limits are -1 where unlimited. Times are milliseconds since the epoch.
 */

/** -1: no limit. */
export const UNLIMITED = -1;

export interface Plan {
  id: string;
  monthlyQuota: number;
  rateLimitPerMinute: number;
  /**
   * Decimal string such as "0.01": the price of a unit of every usage type
   * that `prices` does not list; null where such units are not priced.
   */
  pricePerCall: string | null;
  /** ISO 4217 code of the prices and statements, e.g. "USD". */
  currency: string;
  /** Prices of particular usage types. */
  prices: UsagePrice[];
  /** IANA zone that fixes the edges of the billing month. */
  timeZone: string;
  /** Named limits beside the shorthand `monthlyQuota` and `rateLimitPerMinute`; empty: none. */
  limits: LimitSpec[];
  /** What its usage costs in credits; null: the plan uses none. */
  credits: CreditsConfig | null;
  createdAt: number;
  updatedAt: number;
}

/** One tier of a graduated price: units up to `upTo` (over the whole period) cost `unitPrice`; null: every unit above. */
export interface PriceTier {
  upTo: number | null;
  unitPrice: string;
}

/** The price of one usage type: exactly one of a flat `unitPrice` or graduated `tiers`. */
export interface UsagePrice {
  usageType: string;
  unitPrice: string | null;
  tiers: PriceTier[] | null;
}

export interface Group {
  id: string;
  name: string;
  planId: string;
  /** The group's own deal: new units per limit name of its plan; null lifts a limit. */
  limitOverrides: LimitOverrides;
  /** Limits of its own, added to its plan's. */
  limits: LimitSpec[];
  createdAt: number;
  updatedAt: number;
}

export interface App {
  id: string;
  groupId: string;
  name: string;
  /** The app's own monthly quota on top of its group's plan; null where it has none. */
  monthlyQuota: number | null;
  /** The app's own per-minute limit on top of its group's plan; null where it has none. */
  rateLimitPerMinute: number | null;
  /** When the app was disabled: its keys stop working and its events are refused. Null while enabled. */
  disabledAt: number | null;
  /** The app's own deal: new units per limit name of its plan or group (winning over the group's); null lifts a limit. */
  limitOverrides: LimitOverrides;
  /** Limits of its own (scope `app` or `key`), added to its plan's and group's. */
  limits: LimitSpec[];
  createdAt: number;
  updatedAt: number;
}

export interface Key {
  id: string;
  appId: string;
  groupId: string;
  name: string;
  /** The first characters of the secret, enough to tell keys apart in a list. */
  hint: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

/** A token that lets a provider's backend call the check API, and nothing else. */
export interface ServiceToken {
  id: string;
  name: string;
  hint: string;
  createdAt: number;
  revokedAt: number | null;
}

/** Everything the check path needs to know about a presented key, in one read. */
export interface KeyContext {
  key: Key;
  app: App;
  group: Group;
  plan: Plan;
}

/** What a usage event is grouped and counted by. */
export interface UsageEvent {
  /** Unique id of the event (the idempotency key's event, or a generated one). */
  id: string;
  ts: number;
  groupId: string;
  appId: string;
  keyId: string | null;
  usageType: string;
  requestArgsHash: string;
  count: number;
}

export type UsageDimension = 'usage_type' | 'request_args_hash' | 'app_id';
export const USAGE_DIMENSIONS: readonly UsageDimension[] = ['usage_type', 'request_args_hash', 'app_id'];
