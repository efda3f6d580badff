// The customer's view: their usage in this billing period, each limit on them, their credits, and usage by usage type.
import { api, h, $, fmt, num, when } from './dom.js';
import { gauge, usageChart } from './charts.js';
import { limitGauges } from './limits.js';

/** The balance, where the plan uses credits: read defensively, as older servers answer no `credits` in /v1/usage. */
function creditsStat(credits) {
  if (credits === null || typeof credits !== 'object' || typeof credits.balance !== 'number') return null;
  return h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Credit balance'),
    h('b', { id: 'my-credits', class: credits.balance < 0 ? 'bad' : '' }, num(credits.balance)));
}

export function customerView() {
  const view = $('view');
  const summary = h('div', { class: 'stats', id: 'my-usage' });
  const limits = h('div', { class: 'limits', id: 'my-limits' });
  const usage = h('div', { id: 'usage-chart' });
  view.replaceChildren(
    h('section', { class: 'card' }, h('h2', {}, 'This billing period'), summary),
    h('section', { class: 'card' }, h('h2', {}, 'Limits'), h('p', { class: 'muted' }, "Every limit on this key: your group's, your app's and the key's own."), limits),
    h('section', { class: 'card' }, h('h2', {}, 'Usage by usage type'), usage));
  const draw = usageChart(usage, async (query) => (await api(`/dashboard/api/me/v3/ocr-usage?${query}`)).ocr_usage);
  const refresh = async () => {
    const me = await api('/dashboard/api/me/v1/usage');
    const left = me.monthly_quota < 0 ? 'unlimited' : fmt(Math.max(0, me.monthly_quota - me.monthly_used));
    // The credits' stat is null where the plan uses none: left out, as replaceChildren would write it as the text "null".
    summary.replaceChildren(...[
      gauge(me.monthly_used, me.monthly_quota, { id: 'my-gauge' }),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Quota left'), h('b', { id: 'quota-left' }, left)),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Rate limit'), h('b', { id: 'rate-limit' }, me.rate_limit_per_minute < 0 ? 'unlimited' : `${fmt(me.rate_limit_per_minute)}/min`)),
      creditsStat(me.credits),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Amount so far'), h('b', { id: 'current-amount' },
        me.current_charges ? `${me.current_charges.amount_decimal} ${me.current_charges.currency}` : 'not available')),
      h('p', { class: 'muted' }, `Period ${when(me.period_start)} to ${when(me.period_end)}`),
    ].filter((stat) => stat !== null));
    // The usage endpoints' own call counts against the per-minute windows: the gauges show this very read too.
    limitGauges(limits, me.limits ?? [], { showScope: true });
    await draw();
  };
  return refresh;
}
