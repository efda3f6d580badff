// The provider's view of a group's credits: the balance (and debt), the
// grants with what is left of each, a form to grant credits and a button to
// void a grant.
import { admin, api, h, num, pager, pageQuery, when } from './dom.js';

/**
 * A key for one grant form, made when the form is shown and sent with each
 * of its submits until one succeeds: a double submit, or a retry after a lost
 * answer, is answered the first grant instead of granting again.
 * (getRandomValues, not randomUUID: the dashboard may be served over plain http.)
 */
function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `dashboard-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** What the plan charges in credits, in words. */
function planCredits(plan) {
  const credits = plan.credits;
  if (!credits) return `Plan ${plan.id} charges no credits: grants are kept, but no call spends them.`;
  const prices = Object.entries(credits.per_unit).map(([type, cost]) => `${type === '*' ? 'any other type' : type} ${num(cost)}`).join(', ');
  const every = credits.grant_every_period;
  const recurring = every ? `; ${num(every.amount)} granted each billing period (rollover: ${every.rollover})` : '';
  return `Credits per unit: ${prices || 'none'}${recurring}.`;
}

function statusCell(grant, onVoid) {
  if (grant.status === 'active') return h('button', { type: 'button', class: 'danger', onclick: () => void onVoid(grant) }, 'Void');
  return h('span', { class: grant.status === 'voided' ? 'badge bad' : 'badge' }, grant.status);
}

export async function renderCredits(container, groupId, plan) {
  const base = admin(`/groups/${encodeURIComponent(groupId)}/grants`);
  const balance = h('b', { id: 'credit-balance' });
  const debt = h('b', { id: 'credit-debt' });
  const debtStat = h('div', { class: 'stat', hidden: true }, h('span', { class: 'muted' }, 'Debt'), debt);
  const grants = h('tbody', { id: 'grants' });
  const error = h('p', { class: 'error', role: 'alert', id: 'grant-error' });

  const grantsPager = pager(async (after) => {
    const query = pageQuery(after, 10);
    query.set('include_voided', 'true');
    const page = await api(`${base}?${query}`);
    balance.textContent = num(page.balance);
    balance.className = page.balance < 0 ? 'bad' : '';
    // Debt is what ingested usage took beyond the grants: shown whenever there is some, as the balance below zero says.
    debt.textContent = num(page.debt);
    debtStat.hidden = page.debt === 0;
    grants.replaceChildren(...page.items.map((g) => h('tr', { 'data-grant': g.id, 'data-status': g.status },
      h('td', {}, g.note || '(no note)', h('div', { class: 'muted' }, `${g.source === 'period' ? 'period grant' : 'granted'} ${when(g.created_at)}`)),
      h('td', { class: 'num grant-amount' }, num(g.amount)),
      h('td', { class: 'num grant-remaining' }, num(g.remaining)),
      h('td', { class: 'num hide-narrow' }, num(g.priority)),
      h('td', { class: 'hide-narrow' }, g.expires_at ? when(g.expires_at) : 'never'),
      h('td', {}, statusCell(g, voidGrant)))));
    if (page.items.length === 0) grants.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No grants yet.')));
    return page.next;
  });

  async function voidGrant(grant) {
    if (!window.confirm(`Void the grant "${grant.note || grant.id}"? What is left of it (${num(grant.remaining)} credits) is no longer spent.`)) return;
    error.textContent = '';
    try {
      await api(`${base}/${encodeURIComponent(grant.id)}/void`, { method: 'POST' });
      await grantsPager.run();
    } catch (failed) {
      error.textContent = failed.message;
    }
  }

  const amount = h('input', { name: 'amount', type: 'number', min: 1, step: 1, required: true });
  const expires = h('input', { name: 'expires_at', type: 'datetime-local' });
  const priority = h('input', { name: 'priority', type: 'number', step: 1, placeholder: '0' });
  const note = h('input', { name: 'note', maxlength: 500 });
  const field = (label, input) => h('label', { class: 'field' }, h('span', { class: 'muted' }, label), input);
  let idempotencyKey = newIdempotencyKey();
  async function grant(event) {
    event.preventDefault();
    error.textContent = '';
    try {
      const body = { amount: Number(amount.value), idempotency_key: idempotencyKey };
      if (expires.value) body.expires_at = new Date(expires.value).toISOString();
      if (priority.value !== '') body.priority = Number(priority.value);
      if (note.value) body.note = note.value;
      await api(base, { method: 'POST', body });
      // Granted: the next grant is another one, under a key of its own.
      form.reset();
      idempotencyKey = newIdempotencyKey();
      await grantsPager.run();
    } catch (failed) {
      error.textContent = failed.message;
    }
  }
  const form = h('form', { class: 'row grant-form', id: 'grant-form', onsubmit: grant },
    field('Credits', amount), field('Expires (optional, your time)', expires), field('Priority (higher is spent first)', priority),
    field('Note (optional)', note), h('button', { type: 'submit' }, 'Grant credits'));

  container.replaceChildren(
    h('h2', {}, 'Credits'),
    h('div', { class: 'stats' }, h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Credit balance'), balance), debtStat),
    h('p', { class: 'muted', id: 'plan-credits' }, planCredits(plan)),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {},
      h('th', {}, 'Grant'), h('th', { class: 'num' }, 'Amount'), h('th', { class: 'num' }, 'Left'), h('th', { class: 'num hide-narrow' }, 'Priority'),
      h('th', { class: 'hide-narrow' }, 'Expires'), h('th', {}, ''))), grants)),
    grantsPager.element,
    h('h3', {}, 'Grant credits'), form, error);
  await grantsPager.run();
}
