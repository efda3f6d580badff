import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import type { Clock } from '../../src/clock.js';
import { loadConfig, type Settings } from '../../src/config.js';
import type { GatewayConfig } from '../../src/gateway/config.js';
import { startTollgate, type Tollgate } from '../../src/runtime.js';
import type { Scheduler } from '../../src/scheduler.js';
import type { TestStore } from './stores.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestServer {
  url: string;
  dataDir: string;
  tollgate: Tollgate;
  /** Stops the server; `keepData` leaves the data directory for a restart. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * A real Tollgate on a free loopback port with its own SQLite file in a
 * temporary directory, and a known admin token; its log lines go to
 * `logStream` when one is given (at `config.logLevel`), nowhere otherwise.
 * With a `scheduler` (a ManualScheduler on the test's ManualClock), its
 * background jobs run only when the test advances it. With a `store` (from
 * `testStores()`), on that store: its data is the data directory's.
 */
export async function startTestServer(options: {
  clock?: Clock; scheduler?: Scheduler; dataDir?: string; config?: Partial<Settings>; gateway?: GatewayConfig; logStream?: { write(line: string): void };
  store?: TestStore;
} = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tollgate-test-'));
  const store = options.store === undefined ? {} : await options.store.settings(dataDir);
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, adminToken: ADMIN_TOKEN, logLevel: 'silent', ...store, ...options.config });
  const tollgate = await startTollgate(config, {
    ...(options.logStream ? { logStream: options.logStream } : { logger: false }),
    ...(options.clock ? { clock: options.clock } : {}), ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    ...(options.gateway ? { gateway: options.gateway } : {}),
  });
  return {
    url: tollgate.url,
    dataDir,
    tollgate,
    async close({ keepData = false } = {}) {
      await tollgate.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON request over a real socket; over HTTPS, through a `dispatcher` that trusts the server's CA. */
export async function request<T = any>(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown; dispatcher?: Dispatcher } = {}): Promise<JsonResponse<T>> {
  const options = {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
  };
  // undici's own fetch for a dispatcher of its own: Node's built-in fetch bundles another undici.
  const response = init.dispatcher === undefined ? await fetch(url, options) : await undiciFetch(url, { ...options, dispatcher: init.dispatcher });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: leave the text for the assertion to show
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** Calls the admin API with the test admin token (over HTTPS, through a `dispatcher` that trusts the server's CA). */
export function adminClient(baseUrl: string, token = ADMIN_TOKEN, dispatcher?: Dispatcher) {
  const call = <T = any>(method: string, path: string, body?: unknown) =>
    request<T>(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` }, body, ...(dispatcher === undefined ? {} : { dispatcher }) });
  return {
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body ?? {}),
    patch: <T = any>(path: string, body: unknown) => call<T>('PATCH', path, body),
    put: <T = any>(path: string, body: unknown) => call<T>('PUT', path, body),
    delete: <T = any>(path: string) => call<T>('DELETE', path),
  };
}

export type AdminClient = ReturnType<typeof adminClient>;

/**
 * A plan (`plan` on top of no quota and no rate limit), a group on it with an
 * app, and a key, named `<prefix>-plan-<n>` and so on; each must be created.
 * `newKey` issues another key for the app.
 */
export async function customerOnPlan(admin: AdminClient, prefix: string, n: number, plan: Record<string, unknown>) {
  const ids = { plan: `${prefix}-plan-${n}`, group: `${prefix}-group-${n}`, app: `${prefix}-app-${n}` };
  const created = await admin.post('/admin/plans', { id: ids.plan, monthly_quota: -1, rate_limit_per_minute: -1, ...plan });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await admin.post('/admin/groups', { id: ids.group, name: ids.group, plan_id: ids.plan })).status, 201);
  assert.equal((await admin.post(`/admin/groups/${ids.group}/apps`, { id: ids.app })).status, 201);
  const newKey = async () => {
    const res = await admin.post(`/admin/apps/${ids.app}/keys`, { name: 'k' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.key as string;
  };
  return { ...ids, key: await newKey(), newKey };
}

/**
 * Creates a plan, a group, an app and a key in one go and returns the key.
 */
export async function setupCustomer(admin: AdminClient, options: {
  planId?: string; groupId?: string; appId?: string;
  monthlyQuota?: number; ratePerMinute?: number; timeZone?: string;
  appMonthlyQuota?: number; appRatePerMinute?: number;
} = {}): Promise<{ planId: string; groupId: string; appId: string; key: string; keyId: string }> {
  const planId = options.planId ?? `plan-${Math.random().toString(36).slice(2, 8)}`;
  const groupId = options.groupId ?? `group-${Math.random().toString(36).slice(2, 8)}`;
  const appId = options.appId ?? `app-${Math.random().toString(36).slice(2, 8)}`;
  const plan = await admin.post('/admin/plans', {
    id: planId, monthly_quota: options.monthlyQuota ?? -1, rate_limit_per_minute: options.ratePerMinute ?? -1,
    ...(options.timeZone ? { time_zone: options.timeZone } : {}),
  });
  if (plan.status !== 201 && plan.status !== 409) throw new Error(`plan: ${plan.status} ${JSON.stringify(plan.body)}`);
  const group = await admin.post('/admin/groups', { id: groupId, name: groupId, plan_id: planId });
  if (group.status !== 201) throw new Error(`group: ${group.status} ${JSON.stringify(group.body)}`);
  const app = await admin.post(`/admin/groups/${groupId}/apps`, {
    id: appId,
    ...(options.appMonthlyQuota !== undefined ? { monthly_quota: options.appMonthlyQuota } : {}),
    ...(options.appRatePerMinute !== undefined ? { rate_limit_per_minute: options.appRatePerMinute } : {}),
  });
  if (app.status !== 201) throw new Error(`app: ${app.status} ${JSON.stringify(app.body)}`);
  const key = await admin.post(`/admin/apps/${appId}/keys`, { name: 'test' });
  if (key.status !== 201) throw new Error(`key: ${key.status} ${JSON.stringify(key.body)}`);
  return { planId, groupId, appId, key: key.body.key, keyId: key.body.key_id };
}
