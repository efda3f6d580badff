import type {
  App, AppPatch, CreatedKey, CreatedServiceToken, CreditGrant, GrantPage, Group, GroupPatch, Key, NewApp, NewGrant, NewGroup, NewKey, NewPlan, Page, PageOptions, Plan,
  PlanPatch, ServiceToken, Statement, StatementSummary,
} from './admin-types.js';
import type { ApiRequest, HttpClient } from './http.js';
import { usageQueryString } from './usage.js';
import type { UsageQuery, UsageRecord } from './types.js';
import { fromWire, toWire } from './wire.js';

const enc = encodeURIComponent;

/**
 * The admin API (`/admin/...`), with the admin token. Every method throws a
 * `TollgateError` on a refusal: `not_found`, `conflict`, `invalid_request`.
 *
 * @example
 * const plan = await tollgate.admin.plans.create({ id: 'starter', monthlyQuota: 1000, rateLimitPerMinute: 30 });
 * const group = await tollgate.admin.groups.create({ name: 'Acme Corp', planId: plan.id });
 * const app = await tollgate.admin.apps.create(group.id, { id: 'acme-ocr' });
 * const { key } = await tollgate.admin.keys.create(app.appId, { name: 'production' });
 */
export class AdminApi {
  readonly plans;
  readonly groups;
  readonly apps;
  readonly keys;
  readonly serviceTokens;
  readonly statements;
  readonly grants;

  constructor(http: HttpClient) {
    // Creates and changes are not retried after a timeout or a 5xx (the first attempt may have
    // worked); reads and revocations are safe to repeat.
    const call = async <T>(method: ApiRequest['method'], path: string, body?: object, query?: Record<string, string | undefined>): Promise<T> => {
      const response = await http.request<unknown>({
        method, path, idempotent: method !== 'POST' && method !== 'PATCH',
        ...(body === undefined ? {} : { body: toWire(body) }),
        ...(query === undefined ? {} : { query }),
      });
      return fromWire(response.body) as T;
    };
    const list = <T>(path: string, page: PageOptions = {}) =>
      call<Page<T>>('GET', path, undefined, { limit: page.limit?.toString(), after: page.after });

    this.plans = {
      create: (plan: NewPlan) => call<Plan>('POST', '/admin/plans', plan),
      list: (page?: PageOptions) => list<Plan>('/admin/plans', page),
      get: (id: string) => call<Plan>('GET', `/admin/plans/${enc(id)}`),
      update: (id: string, patch: PlanPatch) => call<Plan>('PATCH', `/admin/plans/${enc(id)}`, patch),
    };
    this.groups = {
      create: (group: NewGroup) => call<Group>('POST', '/admin/groups', group),
      list: (page?: PageOptions) => list<Group>('/admin/groups', page),
      get: (id: string) => call<Group>('GET', `/admin/groups/${enc(id)}`),
      update: (id: string, patch: GroupPatch) => call<Group>('PATCH', `/admin/groups/${enc(id)}`, patch),
      /** The `/v3/ocr-usage` query for any group. */
      usage: async (id: string, query: UsageQuery = {}) =>
        (await call<{ ocrUsage: UsageRecord[] }>('GET', `/admin/groups/${enc(id)}/usage`, undefined, usageQueryString(query))).ocrUsage,
    };
    this.apps = {
      create: (groupId: string, app: NewApp = {}) => call<App>('POST', `/admin/groups/${enc(groupId)}/apps`, app),
      /** All apps, or the apps of one group. */
      list: (options: PageOptions & { groupId?: string } = {}) =>
        list<App>(options.groupId === undefined ? '/admin/apps' : `/admin/groups/${enc(options.groupId)}/apps`, options),
      get: (appId: string) => call<App>('GET', `/admin/apps/${enc(appId)}`),
      update: (appId: string, patch: AppPatch) => call<App>('PATCH', `/admin/apps/${enc(appId)}`, patch),
    };
    this.keys = {
      /** The answer's `key` is the secret: it is shown this once only. */
      create: (appId: string, key: NewKey = {}) => call<CreatedKey>('POST', `/admin/apps/${enc(appId)}/keys`, key),
      /** All keys, or the keys of one app; never the secrets. */
      list: (options: PageOptions & { appId?: string } = {}) =>
        list<Key>(options.appId === undefined ? '/admin/keys' : `/admin/apps/${enc(options.appId)}/keys`, options),
      get: (keyId: string) => call<Key>('GET', `/admin/keys/${enc(keyId)}`),
      /** Revokes the key at once. */
      revoke: (keyId: string) => call<Key>('DELETE', `/admin/keys/${enc(keyId)}`),
    };
    this.serviceTokens = {
      /** The answer's `token` is the secret: it is shown this once only. */
      create: (options: { name?: string } = {}) => call<CreatedServiceToken>('POST', '/admin/service-tokens', options),
      list: (page?: PageOptions) => list<ServiceToken>('/admin/service-tokens', page),
      revoke: (tokenId: string) => call<ServiceToken>('DELETE', `/admin/service-tokens/${enc(tokenId)}`),
    };
    const grants = (groupId: string) => `/admin/groups/${enc(groupId)}/grants`;
    this.grants = {
      /** Grants credits to a group; with an `idempotencyKey`, a repeat answers the first grant instead of granting again. */
      create: (groupId: string, grant: NewGrant) => call<CreditGrant>('POST', grants(groupId), grant),
      /** The group's grants, oldest first, with what is left of each, and its balance and debt; voided ones with `includeVoided`. */
      list: (groupId: string, options: PageOptions & { includeVoided?: boolean } = {}) => call<GrantPage>('GET', grants(groupId), undefined, {
        limit: options.limit?.toString(), after: options.after, include_voided: options.includeVoided === undefined ? undefined : String(options.includeVoided),
      }),
      /** Voids a grant: what is left of it is no longer spent. Voiding again changes nothing. */
      void: (groupId: string, grantId: string) => call<CreditGrant>('POST', `${grants(groupId)}/${enc(grantId)}/void`),
    };
    const statements = (groupId: string) => `/admin/groups/${enc(groupId)}/statements`;
    this.statements = {
      /** A group's billing periods with their totals: the open ones first, then the closed ones, newest first. */
      list: (groupId: string, page?: PageOptions) => list<StatementSummary>(statements(groupId), page),
      /** The statement of one billing month (YYYY-MM): final once closed, a preview while open. */
      get: (groupId: string, period: string) => call<Statement>('GET', `${statements(groupId)}/${enc(period)}`),
      /** The list of periods, or one period's statement, as CSV text. */
      csv: async (groupId: string, period?: string) => (await http.request<string>({
        method: 'GET', path: period === undefined ? statements(groupId) : `${statements(groupId)}/${enc(period)}`,
        query: { format: 'csv' }, idempotent: true, accept: 'text/csv',
      })).body,
    };
  }
}
