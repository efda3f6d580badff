// A gauge per named limit: its name, window and scope, used against units, and when it resets.
import { h, when } from './dom.js';
import { gauge } from './charts.js';

const WINDOWS = { second: 'second', minute: 'minute', hour: 'hour', day: 'day', billing_period: 'billing period' };

/** Seconds as the largest whole unit that fits: 45 s, 12 min, 3 h, 2 days. */
export function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.ceil(seconds / 3600)} h`;
  const days = Math.ceil(seconds / 86_400);
  return `${days} day${days === 1 ? '' : 's'}`;
}

/**
 * When the limit frees up: a billing period at its end (a date), a sliding
 * window once what it counted has slid out (a wait), nothing when it is unused.
 */
function resetText(limit) {
  // The reset is in whole seconds, rounded up: the period's end is on a minute.
  if (limit.window === 'billing_period') return `resets ${when(new Date(Math.floor((Date.now() + limit.reset * 1000) / 60_000) * 60_000).toISOString())}`;
  return limit.used === 0 || limit.reset <= 0 ? 'nothing counted now' : `empties in ${duration(limit.reset)}`;
}

/** One limit from a check or usage answer (`{name, window, scope, units, used, remaining, reset}`). */
export function limitGauge(limit, { showScope = false } = {}) {
  const per = `per ${WINDOWS[limit.window] ?? limit.window}${showScope ? `, ${limit.scope}` : ''}`;
  return h('div', {
    class: 'limit', 'data-limit': limit.name, 'data-used': limit.used, 'data-units': limit.units, 'data-remaining': limit.remaining,
  },
  h('strong', { class: 'limit-name' }, limit.name),
  gauge(limit.used, limit.units, { small: true }),
  h('span', { class: 'limit-per' }, per),
  h('span', { class: 'muted limit-reset' }, resetText(limit)));
}

/** Every limit's gauge, or a line saying there is none. */
export function limitGauges(container, limits, options) {
  container.replaceChildren(...limits.map((limit) => limitGauge(limit, options)));
  if (limits.length === 0) container.replaceChildren(h('p', { class: 'muted' }, 'No limits.'));
}
