// The provider's view: every group with its usage, plans, apps, statements and alerts.
import { admin, api, h, $, fmt, when, failure, pager, pageQuery } from './dom.js';
import { gauge, usageChart } from './charts.js';
import { renderCredits } from './credits-view.js';
import { limitGauges } from './limits.js';

/** What each refusal code reads as in the recent denials. */
const DENIALS = { rate_limited: 'rate limited', quota_exceeded: 'quota exceeded', insufficient_credits: 'out of credits' };


export function providerView() {
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
      h('td', {}, h('span', { class: 'badge bad' }, DENIALS[d.code] ?? d.code.replaceAll('_', ' '))))));
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

  const refresh = async () => {
    await Promise.all([groupsPager.run(), loadActivity()]);
    if (current !== null) await renderGroup(detail, current);
  };
  return refresh;
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
  const limits = h('div', { class: 'limits', id: 'group-limits' });
  const credits = h('section', { class: 'card', id: 'credits' });
  detail.replaceChildren(h('div', { class: 'card' },
    h('h2', {}, `${group.name || group.id}`, h('span', { class: 'muted' }, ` (${group.id}), plan ${plan.id}`)),
    h('div', { class: 'stats' }, gaugeSlot,
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Rate limit'), h('b', {}, plan.rate_limit_per_minute < 0 ? 'unlimited' : `${fmt(plan.rate_limit_per_minute)}/min`)),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Time zone'), h('b', {}, plan.time_zone))),
    h('h3', {}, 'Limits'), h('p', { class: 'muted' }, "The group's own limits (its apps' and keys' are each their own)."), limits,
    h('h3', {}, 'Usage by usage type'), usage),
  credits,
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
    api(`/dashboard/api/groups/${id}/limits`).then((answer) => limitGauges(limits, answer.limits)).catch((error) => failure(limits, error)),
    renderCredits(credits, groupId, plan).catch((error) => failure(credits, error)),
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

