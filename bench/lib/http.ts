/** JSON over HTTP with the global fetch (undici, keep-alive), for setup and the query benchmark. */

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export async function requestJson<T = unknown>(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<JsonResponse<T>> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: response.status, body: body as T, text };
}

/** An admin API client that throws unless the answer has the expected status. */
export function adminApi(baseUrl: string, token: string) {
  return async function admin<T = Record<string, unknown>>(method: string, path: string, body: unknown, expect = 201): Promise<T> {
    const res = await requestJson<T>(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` }, body });
    if (res.status !== expect) throw new Error(`${method} ${path}: expected ${expect}, got ${res.status} ${res.text.slice(0, 300)}`);
    return res.body;
  };
}

export type AdminApi = ReturnType<typeof adminApi>;

export interface Catalogue {
  planId: string;
  groups: string[];
  /** One entry per key: its secret, id, app and group. */
  keys: Array<{ key: string; keyId: string; appId: string; groupId: string }>;
}

/**
 * One unlimited plan (monthly_quota -1, rate_limit_per_minute -1, UTC), `groups`
 * groups, `appsPerGroup` apps in each and one key per app, through the admin API.
 */
export async function createCatalogue(admin: AdminApi, options: { prefix: string; groups: number; appsPerGroup: number }): Promise<Catalogue> {
  const planId = `${options.prefix}-unlimited`;
  await admin('POST', '/admin/plans', { id: planId, monthly_quota: -1, rate_limit_per_minute: -1, time_zone: 'UTC' });
  const groups: string[] = [];
  const keys: Catalogue['keys'] = [];
  for (let g = 0; g < options.groups; g += 1) {
    const groupId = `${options.prefix}-group-${String(g).padStart(3, '0')}`;
    await admin('POST', '/admin/groups', { id: groupId, name: groupId, plan_id: planId });
    groups.push(groupId);
    for (let a = 0; a < options.appsPerGroup; a += 1) {
      const appId = `${options.prefix}-app-${String(g * options.appsPerGroup + a).padStart(4, '0')}`;
      await admin('POST', `/admin/groups/${groupId}/apps`, { id: appId });
      const created = await admin<{ key: string; key_id: string }>('POST', `/admin/apps/${appId}/keys`, { name: 'bench' });
      keys.push({ key: created.key, keyId: created.key_id, appId, groupId });
    }
  }
  return { planId, groups, keys };
}
