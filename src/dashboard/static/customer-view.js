// The customer's view: their usage in this billing period, and by usage type.
import { api, h, $, fmt, when } from './dom.js';
import { gauge, usageChart } from './charts.js';

export function customerView() {
  const view = $('view');
  const summary = h('div', { class: 'stats', id: 'my-usage' });
  const usage = h('div', { id: 'usage-chart' });
  view.replaceChildren(
    h('section', { class: 'card' }, h('h2', {}, 'This billing period'), summary),
    h('section', { class: 'card' }, h('h2', {}, 'Usage by usage type'), usage));
  const draw = usageChart(usage, async (query) => (await api(`/dashboard/api/me/v3/ocr-usage?${query}`)).ocr_usage);
  const refresh = async () => {
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
  return refresh;
}
