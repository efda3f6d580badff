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
/** A count as the reader's locale writes it; `fmt` reads -1 as no limit, `num` keeps the sign (a balance below zero). */
export const num = (n) => new Intl.NumberFormat().format(n);
export const fmt = (n) => (n < 0 ? 'unlimited' : num(n));
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

/** Previous and Next over a paged list: `load(after)` draws a page and answers its `next` cursor. */
export function pager(load) {
  const cursors = [undefined];
  let index = 0;
  let next = null;
  const prev = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => { index -= 1; void run(); } }, 'Previous');
  const more = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => { cursors[index + 1] = next; index += 1; void run(); } }, 'Next');
  const where = h('span', { class: 'muted' });
  async function run() {
    prev.disabled = true;
    more.disabled = true;
    next = await load(cursors[index]);
    prev.disabled = index === 0;
    more.disabled = next === null;
    where.textContent = `Page ${index + 1}`;
    element.hidden = index === 0 && next === null;
  }
  const element = h('div', { class: 'pager' }, prev, where, more);
  return { element, run };
}

const PAGE_SIZE = 20;
export const pageQuery = (after, limit = PAGE_SIZE) => new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });

/** A path of the admin API, as the provider's session reaches it. */
export const admin = (path) => `/dashboard/api/admin${path}`;
