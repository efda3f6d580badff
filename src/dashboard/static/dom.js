// The dashboard's small helpers: building elements (every value from the API
// reaches the page as text, never as HTML), formatting, and the API client.

/** The signed-in session (null when signed out), and what a request that finds it ended does. */
export const page = { session: null, sessionEnded: (_message) => {} };

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);
export const fmt = (n) => (n < 0 ? 'unlimited' : new Intl.NumberFormat().format(n));
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && page.session) headers['x-csrf-token'] = page.session.csrf_token;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text === '' ? null : JSON.parse(text);
  if (!res.ok) {
    if (res.status === 401 && page.session !== null && path !== '/dashboard/session') page.sessionEnded('Your session has ended: sign in again.');
    throw new ApiFailure(res.status, json);
  }
  return json;
}

export function failure(where, error) {
  where.replaceChildren(h('p', { class: 'error', role: 'alert' }, error.message));
}
