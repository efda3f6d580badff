// The dashboard's charts: a quota gauge and the usage chart (uPlot).
import uPlot from '/dashboard/assets/uplot.esm.js';
import { $, fmt, h, when } from './dom.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const RANGES = {
  day: { label: 'Last 24 hours, by hour', timespan: 'hour', step: HOUR, count: 24 },
  month: { label: 'Last 30 days, by day', timespan: 'day', step: DAY, count: 30 },
};
const COLORS = ['#2f6fde', '#d98a00', '#2e8b57', '#c9372c', '#7b4fd6', '#0b8fa3', '#a0522d'];

const charts = new Map();

/** Drops every chart drawn (signing out). */
export function destroyCharts() {
  for (const chart of charts.values()) chart.destroy();
  charts.clear();
}

/** A half-circle gauge of used against quota; an unlimited quota shows the units alone. */
export function gauge(used, quota, { id, small = false } = {}) {
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
export function usageChart(container, fetchRecords) {
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
