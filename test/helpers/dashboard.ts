import assert from 'node:assert/strict';
import { request, type JsonResponse } from './server.js';

/** A dashboard session as a test holds it: the cookie to send, its CSRF token, and the sign-in's answer. */
export interface DashboardSession { cookie: string; csrf: string; setCookie: string; body: any }

/** Signs in to the dashboard at `url` with the admin token or an API key; `session` is null when no cookie was set. */
export async function signIn(url: string, token: string, headers: Record<string, string> = {}): Promise<JsonResponse & { session: DashboardSession | null }> {
  const res = await request(`${url}/dashboard/session`, { method: 'POST', headers, body: { token } });
  const setCookie = res.headers.get('set-cookie');
  const session = setCookie === null ? null : { cookie: setCookie.split(';')[0]!, csrf: res.body.csrf_token, setCookie, body: res.body };
  return { ...res, session };
}

/** A dashboard API call with the session cookie and, unless told otherwise, its CSRF token. */
export function dashboardCall(url: string, session: DashboardSession, method: string, path: string,
  options: { body?: unknown; csrf?: string | null; headers?: Record<string, string> } = {}): Promise<JsonResponse> {
  const csrf = options.csrf === undefined ? session.csrf : options.csrf;
  return request(`${url}${path}`, {
    method,
    headers: { cookie: session.cookie, ...(csrf === null ? {} : { 'x-csrf-token': csrf }), ...options.headers },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
}

/** An error answer: its status, its code, a message (matching `message` when given). */
export function assertError(res: JsonResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error, code);
  assert.equal(typeof res.body.message, 'string');
  if (message) assert.match(res.body.message, message);
}
