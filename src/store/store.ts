import type { App, Group, Key, KeyContext, Plan, ServiceToken } from '../domain/types.js';
import type { Span } from '../domain/periods.js';
import type { IngestEvent, IngestOutcome, LimitState, MeterRequest, MeterResult } from '../domain/metering.js';
import type { RollupStore } from '../domain/rollups.js';
import type { EventMetering, LimitRead, StoreBacklog } from '../engine/ports.js';
import type { CreditGrant, CreditState, PeriodGrant } from '../domain/credits.js';
import type { Alert, AlertSettings, ClaimedDelivery, DeliveryAttempt, DeliveryNext, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint } from '../domain/alerts.js';

/**
 * The one contract every Tollgate store fulfils: the embedded SQLite store and
 * the scale-out PostgreSQL + Redis store. Everything is asynchronous so that a
 * networked store fits; the conformance suite in `test/conformance/store-conformance.ts`
 * runs against each implementation.
 *
 * Its concerns:
 * - the catalogue (plans, groups, apps, keys, service tokens);
 * - metering: one atomic decision per call that applies the rate limits and the
 *   quotas all-or-nothing and, when it admits, records the usage durably
 *   before it resolves;
 * - usage reads, from time-bucketed rollups, never from raw events;
 * - closed billing statements, written once;
 * - alerts, and the outbox of their webhook deliveries;
 * - prepaid credits: grants and debt;
 * - the dashboard sessions ended before their time.
 */
export interface Store extends CatalogStore, MeterStore, RollupStore, StatementStore {
  /** Usage alerts and the outbox of their webhook deliveries. */
  readonly alerts: AlertStore;
  /** Prepaid credits: each group's grants and debt. */
  readonly credits: CreditStore;
  /** Dashboard sessions signed out of, shared by every instance. */
  readonly endedSessions: EndedSessionStore;
  /** Writes whatever is buffered and releases the store's resources. */
  close(): Promise<void>;
  /** Whether the store can serve requests (for `/healthz`). */
  healthy(): Promise<boolean>;
  /** Work accepted and not yet fully written, at this moment (for `/metrics`); cheap enough to read on every scrape. */
  backlog(): StoreBacklog;
}

// ---------------------------------------------------------------- catalogue

export interface PageRequest {
  /** At most this many items (1..1000). */
  limit: number;
  /** Items whose id sorts after this one. */
  after?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

/**
 * `currency` defaults to USD and `prices` to none (`pricePerCall` then prices
 * every usage type); `limits` to none and `credits` to null.
 */
export type NewPlan = Omit<Plan, 'createdAt' | 'updatedAt' | 'currency' | 'prices' | 'limits' | 'credits'>
  & Partial<Pick<Plan, 'currency' | 'prices' | 'limits' | 'credits'>>;
export type PlanPatch = Partial<Omit<Plan, 'id' | 'createdAt' | 'updatedAt'>>;
/** `limitOverrides` defaults to none (`{}`), `limits` to none. */
export type NewGroup = Omit<Group, 'createdAt' | 'updatedAt' | 'limitOverrides' | 'limits'> & Partial<Pick<Group, 'limitOverrides' | 'limits'>>;
export type GroupPatch = Partial<Pick<Group, 'name' | 'planId' | 'limitOverrides' | 'limits'>>;
/** `limitOverrides` defaults to none (`{}`), `limits` to none. */
export type NewApp = Omit<App, 'createdAt' | 'updatedAt' | 'disabledAt' | 'limitOverrides' | 'limits'> & Partial<Pick<App, 'limitOverrides' | 'limits'>>;
export type AppPatch = Partial<Pick<App, 'name' | 'monthlyQuota' | 'rateLimitPerMinute' | 'disabledAt' | 'limitOverrides' | 'limits'>>;
export interface NewKey extends Omit<Key, 'revokedAt' | 'groupId'> {
  /** SHA-256 hex of the secret; the secret itself never reaches the store. */
  secretHash: string;
}
export interface NewServiceToken extends Omit<ServiceToken, 'revokedAt'> {
  secretHash: string;
}

/** Create methods throw ConflictError on a taken id and NotFoundError on a missing parent. */
export interface CatalogStore {
  createPlan(plan: NewPlan, now: number): Promise<Plan>;
  getPlan(id: string): Promise<Plan | null>;
  listPlans(page: PageRequest): Promise<Page<Plan>>;
  updatePlan(id: string, patch: PlanPatch, now: number): Promise<Plan>;

  createGroup(group: NewGroup, now: number): Promise<Group>;
  getGroup(id: string): Promise<Group | null>;
  listGroups(page: PageRequest): Promise<Page<Group>>;
  updateGroup(id: string, patch: GroupPatch, now: number): Promise<Group>;

  createApp(app: NewApp, now: number): Promise<App>;
  getApp(id: string): Promise<App | null>;
  listApps(groupId: string | null, page: PageRequest): Promise<Page<App>>;
  updateApp(id: string, patch: AppPatch, now: number): Promise<App>;

  createKey(key: NewKey): Promise<Key>;
  getKey(id: string): Promise<Key | null>;
  listKeys(appId: string | null, page: PageRequest): Promise<Page<Key>>;
  /** Revokes at `now`; revoking a revoked key keeps its first revocation time. */
  revokeKey(id: string, now: number): Promise<Key>;
  /** The key with this secret hash and its app, group and plan, revoked or not. */
  findKeyContext(secretHash: string): Promise<KeyContext | null>;

  createServiceToken(token: NewServiceToken): Promise<ServiceToken>;
  listServiceTokens(page: PageRequest): Promise<Page<ServiceToken>>;
  revokeServiceToken(id: string, now: number): Promise<ServiceToken>;
  findServiceToken(secretHash: string): Promise<ServiceToken | null>;
}

// ---------------------------------------------------------------- metering

export interface MeterStore {
  meter(request: MeterRequest): Promise<MeterResult>;
  /**
   * Ends a `reserve`: records the call with the cost it really had (nothing
   * when 0) durably, and gives back or adds the difference to the counters.
   * A settled cost above the reservation is never refused: the call was served.
   */
  settle(request: MeterRequest, actualCost: number): Promise<void>;
  /**
   * Records served usage durably. An event whose dedupKey was seen within the
   * dedup window is a duplicate and counts nothing. Never refused by limits,
   * but counts toward the billing-period limits `meteringOf` names for it (by
   * default the group's and the app's totals) in the period holding its time,
   * and takes its credits (into debt if need be).
   */
  ingest(events: readonly IngestEvent[], meteringOf?: (event: IngestEvent) => EventMetering): Promise<IngestOutcome[]>;
  /** Units used in `period` by the group and by the app, including everything acknowledged. */
  periodUsage(groupId: string, appId: string, period: Span): Promise<{ groupUsed: number; appUsed: number }>;
  /** The state of each limit now, consuming nothing. */
  readLimits(request: LimitRead): Promise<LimitState[]>;
}

// ---------------------------------------------------------------- statements

/** A closed billing statement as stored: written once, never changed. */
export interface StoredStatement {
  groupId: string;
  /** The billing month, "YYYY-MM" in the plan's zone; labels of a group ascend with time. */
  period: string;
  /** The span whose usage it bills, [start, end). */
  start: number;
  end: number;
  closedAt: number;
  currency: string;
  /** In minor units, adjustments included. */
  total: number;
  /** The whole statement (JSON), returned byte for byte as it was closed. */
  document: string;
}

export interface StatementStore {
  /**
   * Stores the statement unless one is stored for its group and period
   * already, and returns the one stored: instances closing the same period at
   * once all get the first one written.
   */
  closeStatement(statement: StoredStatement): Promise<StoredStatement>;
  getStatement(groupId: string, period: string): Promise<StoredStatement | null>;
  /** Newest first; `after` is a period, and the page holds the periods before it; `next` is a period. */
  listStatements(groupId: string, page: PageRequest): Promise<Page<StoredStatement>>;
}

// ---------------------------------------------------------------- dashboard sessions

/**
 * The dashboard's sessions are sealed cookies, stored nowhere, so a session
 * ends early (signing out) only by remembering its id until the cookie
 * would have expired by itself. Rows are few (the sign-outs of the last
 * session lifetime) and every dashboard request looks one id up.
 */
export interface EndedSessionStore {
  /** Records that session `sid` ended; `expiresAt` is when it would have ended anyway. Ending a session twice changes nothing. */
  end(sid: string, expiresAt: number): Promise<void>;
  /** Whether session `sid` was ended (and not purged since). */
  isEnded(sid: string): Promise<boolean>;
  /** Forgets the sessions that would have expired by `before` (their cookies no longer open); returns how many. */
  purge(before: number): Promise<number>;
}

// ---------------------------------------------------------------- alerts

export interface AlertStore {
  /** The group's own alert settings; null when it set none (the defaults apply). NotFoundError for no such group. */
  getAlertSettings(groupId: string): Promise<AlertSettings | null>;
  /** Replaces the group's alert settings. NotFoundError for no such group. */
  putAlertSettings(settings: AlertSettings): Promise<AlertSettings>;
  /**
   * Records the alert unless one with the same group, kind, subject,
   * threshold and period start exists (then nothing changes, and `recorded`
   * is false), and in the same transaction a pending delivery, due at once,
   * to each active endpoint that takes the group. Safe to call from many
   * instances at once: exactly one records it.
   */
  recordAlert(alert: Alert): Promise<{ recorded: boolean; deliveries: number }>;

  createWebhookEndpoint(endpoint: NewWebhookEndpoint): Promise<WebhookEndpoint>;
  getWebhookEndpoint(id: string): Promise<WebhookEndpoint | null>;
  listWebhookEndpoints(page: PageRequest): Promise<Page<WebhookEndpoint>>;
  /** Stops sending to the endpoint: its pending deliveries fail. Disabling twice keeps the first time. */
  disableWebhookEndpoint(id: string, now: number): Promise<WebhookEndpoint>;

  /**
   * Takes up to `limit` pending deliveries due at `now` and leases them until
   * `leaseUntil`: no other call (on any instance) takes them before the lease
   * ends or `finishAttempt` ends it. Oldest due first.
   */
  claimDeliveries(now: number, limit: number, leaseUntil: number): Promise<ClaimedDelivery[]>;
  /** Logs an attempt at a claimed delivery, ends its lease, and moves it on as `next` says. */
  finishAttempt(deliveryId: string, attempt: DeliveryAttempt, next: DeliveryNext): Promise<void>;
  /** The group's deliveries with their attempts, newest first; `after` is the `next` of the page before. */
  listDeliveries(groupId: string, page: PageRequest): Promise<Page<WebhookDelivery>>;
  getDelivery(id: string): Promise<WebhookDelivery | null>;
  /**
   * A new pending delivery of the same alert to the same endpoint, due at
   * once. NotFoundError for no such delivery; ConflictError when the
   * endpoint was deleted.
   */
  replayDelivery(id: string, now: number): Promise<WebhookDelivery>;

  /** Keys that expire in (from, to] and are not revoked, oldest expiry first, at most `limit`. */
  findExpiringKeys(from: number, to: number, limit: number): Promise<Key[]>;
}

// ---------------------------------------------------------------- credits

/** A grant as the admin API makes one. */
export interface NewCreditGrant {
  amount: number;
  priority: number;
  expiresAt: number | null;
  note: string | null;
  /** A repeat with the same key and the same grant returns the first one; with another grant it is a conflict. */
  idempotencyKey: string | null;
}

/** What a limiter loads a group's credits from. */
export type { CreditState } from '../domain/credits.js';

/**
 * A group's prepaid credits. Grants are written here; what usage consumes
 * (`credit_grants.used`, the debt) is written by the durable writer with the
 * events that consumed it (`PendingWrite.credits`), never here.
 */
export interface CreditStore {
  /**
   * Grants credits. With an idempotency key seen before for the group: the
   * same grant answers the first one (`created: false`), another one is a
   * ConflictError. NotFoundError for no such group.
   */
  grant(groupId: string, grant: NewCreditGrant, now: number): Promise<{ grant: CreditGrant; created: boolean }>;
  /** The group's grants, oldest first (by id); voided ones only when asked. NotFoundError for no such group. */
  listGrants(groupId: string, page: PageRequest, options?: { includeVoided?: boolean }): Promise<Page<CreditGrant>>;
  getGrant(groupId: string, grantId: string): Promise<CreditGrant | null>;
  /** Voids the grant at `now`: nothing more is spent from it. Voiding twice keeps the first time. NotFoundError for no such grant of the group. */
  voidGrant(groupId: string, grantId: string, now: number): Promise<CreditGrant>;
  /** The group's grants and debt, for a limiter to load. */
  creditState(groupId: string): Promise<CreditState>;
  /**
   * Issues the plan's recurring grant for `period` unless it was issued
   * already (whichever instance asks first issues it), carrying over what
   * the rollover allows of the last period's (src/domain/credits.ts,
   * `periodGrantsToIssue`). Answers the period's grant.
   */
  issuePeriodGrant(groupId: string, config: PeriodGrant, period: Span, now: number): Promise<{ grant: CreditGrant; created: boolean }>;
  /**
   * Calls `listener` with the group's id after every committed change to
   * its grants (made, voided, issued for a period), so that the limiters
   * learn of it. `grant` and `voidGrant` answer once their listeners have
   * settled: what is granted can be spent, and what is voided no longer,
   * on every instance as soon as the answer is out. Listeners must not throw.
   */
  onChange(listener: (groupId: string) => void | Promise<void>): void;
}
