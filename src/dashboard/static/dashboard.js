// The Tollgate dashboard: a plain ES module, no framework. Every value from the
// API reaches the page as text (textContent), never as HTML.
import uPlot from '/dashboard/assets/uplot.esm.js';

const PAGE_SIZE = 20;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const RANGES = {
  day: { label: 'Last 24 hours, by hour', timespan: 'hour', step: HOUR, count: 24 },
  month: { label: 'Last 30 days, by day', timespan: 'day', step: DAY, count: 30 },
};
const COLORS = ['#2f6fde', '#d98a00', '#2e8b57', '#c9372c', '#7b4fd6', '#0b8fa3', '#a0522d'];

let session = null;
let refreshView = async () => {};
const charts = new Map();

// ---------------------------------------------------------------- small helpers

function h(tag, attrs = {}, ...children) {
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

const $ = (id) => document.getElementById(id);
const fmt = (n) => (n < 0 ? 'unlimited' : new Intl.NumberFormat().format(n));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session) headers['x-csrf-token'] = session.csrf_token;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text === '' ? null : JSON.parse(text);
  if (!res.ok) {
    if (res.status === 401 && session !== null && path !== '/dashboard/session') showSignIn('Your session has ended: sign in again.');
    throw new ApiFailure(res.status, json);
  }
  return json;
}

function failure(where, error) {
  where.replaceChildren(h('p', { class: 'error', role: 'alert' }, error.message));
}

// ---------------------------------------------------------------- gauge

/** A half-circle gauge of used against quota; an unlimited quota shows the units alone. */
function gauge(used, quota, { id, small = false } = {}) {
  const limited = quota >= 0;
  const ratio = limited ? (quota === 0 ? (used > 0 ? 1 : 0) : used / quota) : 0;
  const percent = Math.round(ratio * 100);
  const shown = Math.min(100, Math.max(0, ratio * 100));
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', '0 0 100 56');
  svg.setAttribute('aria-hidden', 'true');
  for (const [cls, dash] of [['track', '100 100'], ['fill', `${shown} 100`]]) {
    const arc = document.createElementNS(svgNs, 'path');
    arc.setAttribute('d', 'M 8 50 A 42 42 0 0 1 92 50');
    arc.setAttribute('pathLength', '100');
    arc.setAttribute('fill', 'none');
    arc.setAttribute('stroke-width', '10');
    arc.setAttribute('stroke-linecap', 'butt');
    arc.setAttribute('stroke-dasharray', dash);
    arc.setAttribute('class', cls);
    svg.append(arc);
  }
  const text = limited ? `${fmt(used)} of ${fmt(quota)} (${percent}%)` : `${fmt(used)} units, no quota`;
  const state = !limited ? '' : ratio >= 1 ? ' over' : ratio >= 0.8 ? ' warn' : '';
  return h('div', {
    class: `gauge${small ? ' small' : ''}${state}`, id, role: 'meter',
    'aria-valuemin': 0, 'aria-valuemax': limited ? quota : undefined, 'aria-valuenow': used,
    'aria-valuetext': text, 'data-used': used, 'data-quota': quota, 'data-percent': limited ? percent : undefined,
  }, svg, h('span', { class: 'label' }, text));
}

// ---------------------------------------------------------------- usage chart

/**
 * A usage chart per usage type over the chosen range, from the usage query
 * (the rollups). Periods without usage are zeros; the points are also listed
 * in a table under the chart, for screen readers and for copying.
 */
function usageChart(container, fetchRecords) {
  let range = 'day';
  const select = h('select', { 'aria-label': 'Range', onchange: (e) => { range = e.target.value; void draw(); } },
    Object.entries(RANGES).map(([value, r]) => h('option', { value }, r.label)));
  const plot = h('div', { class: 'chart', id: `${container.id}-plot` });
  const table = h('tbody', { class: 'points' });
  const status = h('p', { class: 'muted' });
  container.replaceChildren(h('div', { class: 'row' }, select, status), plot,
    h('details', {}, h('summary', {}, 'Data points'), h('div', { class: 'table-wrap' },
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Period'), h('th', {}, 'Usage type'), h('th', { class: 'num' }, 'Units'))), table))));

  async function draw() {
    const r = RANGES[range];
    const now = Date.now();
    const from = Math.floor(now / r.step) * r.step - (r.count - 1) * r.step;
    let records;
    try {
      records = await fetchRecords(new URLSearchParams({ from_date: new Date(from).toISOString(), timespan: r.timespan, group_by: 'usage_type', tz: 'UTC' }));
    } catch (error) {
      status.textContent = error.message;
      return;
    }
    const xs = Array.from({ length: r.count }, (_, i) => (from + i * r.step) / 1000);
    const types = [...new Set(records.map((rec) => rec.usage_type))].sort();
    const series = types.map(() => new Array(r.count).fill(0));
    let total = 0;
    for (const rec of records) {
      const i = Math.floor((Date.parse(rec.from_date) - from) / r.step);
      if (i < 0 || i >= r.count) continue;
      series[types.indexOf(rec.usage_type)][i] += rec.count;
      total += rec.count;
    }
    container.dataset.total = String(total);
    container.dataset.points = String(records.length);
    status.textContent = `${fmt(total)} units`;
    table.replaceChildren(...records.map((rec) => h('tr', {},
      h('td', {}, when(rec.from_date)), h('td', {}, rec.usage_type || '(several)'), h('td', { class: 'num' }, fmt(rec.count)))));
    charts.get(container.id)?.destroy();
    const width = Math.max(260, plot.clientWidth || container.clientWidth || 600);
    const bars = uPlot.paths.bars({ size: [0.8, 40] });
    const chart = new uPlot({
      width, height: 220,
      scales: { x: { time: true, range: (_u, min, max) => [min - r.step / 2000, max + r.step / 2000] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [{}, { size: 50 }],
      series: [{}, ...types.map((type, i) => ({ label: type || '(several)', stroke: COLORS[i % COLORS.length], fill: `${COLORS[i % COLORS.length]}55`, paths: bars, points: { show: false } }))],
    }, [xs, ...series], plot);
    charts.set(container.id, chart);
  }
  return draw;
}

window.addEventListener('resize', () => {
  for (const [id, chart] of charts) {
    const plot = $(`${id}-plot`);
    if (plot) chart.setSize({ width: Math.max(260, plot.clientWidth), height: 220 });
  }
});

// ---------------------------------------------------------------- provider view

function pager(load) {
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

const pageQuery = (after, limit = PAGE_SIZE) => new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });
const admin = (path) => `/dashboard/api/admin${path}`;

function providerView() {
  const view = $('view');
  const groupsBody = h('tbody', { id: 'groups-body' });
  const groupsPager = pager(async (after) => {
    const page = await api(`/dashboard/api/groups-overview?${pageQuery(after)}`);
    groupsBody.replaceChildren(...page.items.map((g) => h('tr', { 'data-group': g.group_id },
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => void openGroup(g.group_id) }, g.name || g.group_id),
        h('div', { class: 'muted' }, g.group_id)),
      h('td', { class: 'hide-narrow' }, g.plan_id),
      h('td', {}, gauge(g.monthly_used, g.monthly_quota, { small: true })),
      h('td', { class: 'num hide-narrow' }, g.rate_limit_per_minute < 0 ? 'unlimited' : `${fmt(g.rate_limit_per_minute)}/min`))));
    if (page.items.length === 0) groupsBody.replaceChildren(h('tr', {}, h('td', { colspan: 4 }, 'No groups yet.')));
    return page.next;
  });
  const top = h('tbody', { id: 'top-consumers' });
  const denials = h('tbody', { id: 'denials' });
  const detail = h('section', { id: 'group-detail' });
  view.replaceChildren(
    h('div', { class: 'grid' },
      h('section', { class: 'card' }, h('h2', {}, 'Groups'), h('p', { class: 'muted' }, 'Units used this billing period against each plan\'s monthly quota.'),
        h('div', { class: 'table-wrap' }, h('table', { id: 'groups' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Group'), h('th', { class: 'hide-narrow' }, 'Plan'), h('th', {}, 'Quota use'), h('th', { class: 'num hide-narrow' }, 'Rate limit'))),
          groupsBody)), groupsPager.element),
      h('section', { class: 'card' },
        h('h2', {}, 'Top consumers'), h('p', { class: 'muted' }, 'This billing period, as this instance\'s checks reported it.'),
        h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Group'), h('th', { class: 'num' }, 'Units'), h('th', { class: 'num' }, 'Quota'))), top)),
        h('h2', {}, 'Recent denials'),
        h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Group / app'), h('th', {}, 'Why'))), denials)))),
    detail);

  async function loadActivity() {
    const activity = await api('/dashboard/api/activity?limit=10');
    top.replaceChildren(...activity.top_consumers.map((c) => h('tr', {},
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => void openGroup(c.group_id) }, c.group_id)),
      h('td', { class: 'num' }, fmt(c.monthly_used)), h('td', { class: 'num' }, fmt(c.monthly_quota)))));
    if (activity.top_consumers.length === 0) top.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No checks seen yet.')));
    denials.replaceChildren(...activity.recent_denials.map((d) => h('tr', {},
      h('td', {}, when(d.at)), h('td', {}, `${d.group_id} / ${d.app_id}`),
      h('td', {}, h('span', { class: 'badge bad' }, d.code === 'rate_limited' ? 'rate limited' : 'quota exceeded')))));
    if (activity.recent_denials.length === 0) denials.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'None.')));
  }

  let current = null;
  async function openGroup(groupId) {
    current = groupId;
    detail.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      await renderGroup(detail, groupId);
      detail.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (error) {
      failure(detail, error);
    }
  }

  refreshView = async () => {
    await Promise.all([groupsPager.run(), loadActivity()]);
    if (current !== null) await renderGroup(detail, current);
  };
  return refreshView();
}

async function renderGroup(detail, groupId) {
  const id = encodeURIComponent(groupId);
  const group = await api(admin(`/groups/${id}`));
  const plan = await api(admin(`/plans/${encodeURIComponent(group.plan_id)}`));
  const usage = h('div', { id: 'usage-chart' });
  const apps = h('div', { id: 'apps' });
  const statements = h('tbody', { id: 'statements' });
  const deliveries = h('tbody', { id: 'deliveries' });
  const settings = h('p', { class: 'muted', id: 'alert-settings' });
  const gaugeSlot = h('div', { id: 'group-gauge-slot' });
  detail.replaceChildren(h('div', { class: 'card' },
    h('h2', {}, `${group.name || group.id}`, h('span', { class: 'muted' }, ` (${group.id}), plan ${plan.id}`)),
    h('div', { class: 'stats' }, gaugeSlot,
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Rate limit'), h('b', {}, plan.rate_limit_per_minute < 0 ? 'unlimited' : `${fmt(plan.rate_limit_per_minute)}/min`)),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Time zone'), h('b', {}, plan.time_zone))),
    h('h3', {}, 'Usage by usage type'), usage),
  h('div', { class: 'grid' },
    h('section', { class: 'card' }, h('h2', {}, 'Apps and keys'), apps),
    h('section', { class: 'card' },
      h('h2', {}, 'Statements'),
      h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Period'), h('th', {}, 'Status'), h('th', { class: 'num' }, 'Total'))), statements)),
      h('h2', {}, 'Alerts'), settings,
      h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Alert'), h('th', {}, 'Delivery'))), deliveries)))));

  const fromRollups = async () => {
    const period = await api(admin(`/groups/${id}/usage?timespan=month`));
    const used = period.ocr_usage.reduce((sum, r) => sum + r.count, 0);
    gaugeSlot.replaceChildren(gauge(used, plan.monthly_quota, { id: 'group-gauge' }));
  };
  const draw = usageChart(usage, async (query) => (await api(admin(`/groups/${id}/usage?${query}`))).ocr_usage);
  await Promise.all([
    fromRollups(),
    draw(),
    renderApps(apps, groupId),
    api(admin(`/groups/${id}/statements?limit=6`)).then((page) => {
      statements.replaceChildren(...page.items.map((s) => h('tr', {},
        h('td', {}, s.period), h('td', {}, s.preview ? `${s.status} (so far)` : s.status), h('td', { class: 'num' }, `${s.total_decimal} ${s.currency}`))));
    }).catch((error) => failure(statements, error)),
    api(admin(`/groups/${id}/alert-settings`)).then((s) => {
      settings.textContent = s.kinds.length === 0 ? 'Alerts are off for this group.' : `Thresholds ${s.thresholds.join('%, ')}%; ${s.kinds.join(', ').replaceAll('_', ' ')}.`;
    }).catch((error) => failure(settings, error)),
    api(admin(`/groups/${id}/webhook-deliveries?limit=10`)).then((page) => {
      deliveries.replaceChildren(...page.items.map((d) => h('tr', {},
        h('td', {}, when(d.created_at)), h('td', {}, d.type.replaceAll('_', ' ')), h('td', {}, h('span', { class: d.status === 'failed' ? 'badge bad' : 'badge' }, d.status)))));
      if (page.items.length === 0) deliveries.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No alerts sent yet.')));
    }).catch((error) => failure(deliveries, error)),
  ]);
}

async function renderApps(container, groupId) {
  const list = h('div');
  const appsPager = pager(async (after) => {
    const page = await api(admin(`/groups/${encodeURIComponent(groupId)}/apps?${pageQuery(after, 10)}`));
    list.replaceChildren(...page.items.map((app) => appCard(app)));
    if (page.items.length === 0) list.replaceChildren(h('p', { class: 'muted' }, 'No apps yet.'));
    return page.next;
  });
  container.replaceChildren(list, appsPager.element);
  await appsPager.run();
}

function appCard(app) {
  const appId = encodeURIComponent(app.app_id);
  const keys = h('tbody');
  const secret = h('div', { class: 'new-key', 'data-app': app.app_id });
  const name = h('input', { name: 'name', placeholder: 'Key name', 'aria-label': `New key name for ${app.app_id}`, maxlength: 200 });
  const keysPager = pager(async (after) => {
    const page = await api(admin(`/apps/${appId}/keys?${pageQuery(after, 10)}`));
    keys.replaceChildren(...page.items.map((key) => h('tr', { 'data-key': key.key_id },
      h('td', {}, key.name || '(no name)', h('div', { class: 'muted' }, key.hint)),
      h('td', { class: 'hide-narrow' }, when(key.created_at)),
      h('td', {}, key.revoked_at
        ? h('span', { class: 'badge bad' }, 'revoked')
        : h('button', { type: 'button', class: 'danger', onclick: () => void revoke(key) }, 'Revoke')))));
    if (page.items.length === 0) keys.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No keys.')));
    return page.next;
  });
  async function revoke(key) {
    if (!window.confirm(`Revoke key ${key.name || key.hint}? Calls with it are refused at once.`)) return;
    try {
      await api(admin(`/keys/${encodeURIComponent(key.key_id)}`), { method: 'DELETE' });
      await keysPager.run();
    } catch (error) {
      failure(secret, error);
    }
  }
  async function create(event) {
    event.preventDefault();
    try {
      const created = await api(admin(`/apps/${appId}/keys`), { method: 'POST', body: name.value ? { name: name.value } : {} });
      name.value = '';
      secret.replaceChildren(h('p', {}, 'The new key. Copy it now: it is not shown again.'), h('code', { class: 'secret', 'data-key-id': created.key_id }, created.key));
      await keysPager.run();
    } catch (error) {
      failure(secret, error);
    }
  }
  void keysPager.run();
  return h('div', { class: 'app', 'data-app': app.app_id },
    h('div', { class: 'row' }, h('strong', {}, app.name || app.app_id), h('span', { class: 'muted' }, app.app_id),
      app.disabled_at ? h('span', { class: 'badge bad' }, 'disabled') : null),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', { class: 'hide-narrow' }, 'Created'), h('th', {}, ''))), keys)),
    keysPager.element,
    h('form', { class: 'row', onsubmit: create }, name, h('button', { type: 'submit' }, 'Create key')),
    secret);
}

// ---------------------------------------------------------------- customer view

function customerView() {
  const view = $('view');
  const summary = h('div', { class: 'stats', id: 'my-usage' });
  const usage = h('div', { id: 'usage-chart' });
  view.replaceChildren(
    h('section', { class: 'card' }, h('h2', {}, 'This billing period'), summary),
    h('section', { class: 'card' }, h('h2', {}, 'Usage by usage type'), usage));
  const draw = usageChart(usage, async (query) => (await api(`/dashboard/api/me/v3/ocr-usage?${query}`)).ocr_usage);
  refreshView = async () => {
    const me = await api('/dashboard/api/me/v1/usage');
    const left = me.monthly_quota < 0 ? 'unlimited' : fmt(Math.max(0, me.monthly_quota - me.monthly_used));
    summary.replaceChildren(
      gauge(me.monthly_used, me.monthly_quota, { id: 'my-gauge' }),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Quota left'), h('b', { id: 'quota-left' }, left)),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Rate limit'), h('b', { id: 'rate-limit' }, me.rate_limit_per_minute < 0 ? 'unlimited' : `${fmt(me.rate_limit_per_minute)}/min`)),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Amount so far'), h('b', { id: 'current-amount' },
        me.current_charges ? `${me.current_charges.amount_decimal} ${me.current_charges.currency}` : 'not available')),
      h('p', { class: 'muted' }, `Period ${when(me.period_start)} to ${when(me.period_end)}`));
    await draw();
  };
  return refreshView();
}

// ---------------------------------------------------------------- session

function showSignIn(message = '') {
  session = null;
  for (const chart of charts.values()) chart.destroy();
  charts.clear();
  $('view').replaceChildren();
  $('signin').hidden = false;
  $('refresh').hidden = true;
  $('signout').hidden = true;
  $('who').textContent = '';
  $('signin-error').textContent = message;
  $('token').focus();
}

async function start(answer) {
  session = answer;
  $('signin').hidden = true;
  $('refresh').hidden = false;
  $('signout').hidden = false;
  $('who').textContent = answer.role === 'admin' ? 'Provider' : `Customer ${answer.group_id}, app ${answer.app_id}`;
  document.body.dataset.role = answer.role;
  try {
    await (answer.role === 'admin' ? providerView() : customerView());
    document.body.dataset.ready = 'true';
  } catch (error) {
    if (session !== null) failure($('view'), error);
  }
}

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('signin-error').textContent = '';
  try {
    const answer = await api('/dashboard/session', { method: 'POST', body: { token: $('token').value } });
    $('token').value = '';
    await start(answer);
  } catch (error) {
    $('signin-error').textContent = error.message;
  }
});

$('signout').addEventListener('click', async () => {
  try {
    await api('/dashboard/session', { method: 'DELETE' });
  } finally {
    delete document.body.dataset.role;
    showSignIn();
  }
});

$('refresh').addEventListener('click', async () => {
  delete document.body.dataset.ready;
  try {
    await refreshView();
    document.body.dataset.ready = 'true';
  } catch (error) {
    failure($('view'), error);
  }
});

try {
  await start(await api('/dashboard/session'));
} catch {
  showSignIn();
}
