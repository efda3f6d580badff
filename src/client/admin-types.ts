/**
 * The admin API's entities and the fields to create or change them, in
 * camelCase. Times are ISO 8601 strings; limits are -1 where unlimited.
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

export interface Plan {
  id: string;
  monthlyQuota: number;
  rateLimitPerMinute: number;
  pricePerCall: string | null;
  /** ISO 4217 code of the plan's prices. */
  currency: string;
  timeZone: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewPlan {
  id: string;
  monthlyQuota: number;
  rateLimitPerMinute: number;
  /** A decimal string such as "0.01". */
  pricePerCall?: string | null;
  /** ISO 4217 code; default USD. */
  currency?: string;
  /** IANA zone of the billing month; default UTC. */
  timeZone?: string;
}

export type PlanPatch = Partial<Omit<NewPlan, 'id'>>;

export interface Group {
  id: string;
  name: string;
  planId: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewGroup {
  /** Generated (`grp_…`) when absent. */
  id?: string;
  name: string;
  planId: string;
}

export type GroupPatch = Partial<Pick<NewGroup, 'name' | 'planId'>>;

export interface App {
  appId: string;
  groupId: string;
  name: string;
  /** The app's own quota on top of its group's plan; null: none. */
  monthlyQuota: number | null;
  rateLimitPerMinute: number | null;
  disabledAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewApp {
  /** Generated when absent. */
  id?: string;
  name?: string;
  monthlyQuota?: number | null;
  rateLimitPerMinute?: number | null;
}

export interface AppPatch {
  name?: string;
  /** null removes the app's own limit. */
  monthlyQuota?: number | null;
  rateLimitPerMinute?: number | null;
  /** true disables the app (its keys and events are refused). */
  disabled?: boolean;
}

export interface Key {
  keyId: string;
  appId: string;
  groupId: string;
  name: string;
  /** The first characters of the secret. */
  hint: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** A key just created: `key` is the secret, shown in this answer only. */
export interface CreatedKey extends Key {
  key: string;
}

export interface NewKey {
  name?: string;
  expiresAt?: Date | string;
}

export interface ServiceToken {
  tokenId: string;
  name: string;
  hint: string;
  createdAt: string;
  revokedAt: string | null;
}

/** A service token just created: `token` is the secret, shown in this answer only. */
export interface CreatedServiceToken extends ServiceToken {
  token: string;
}
