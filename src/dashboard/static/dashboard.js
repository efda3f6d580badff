// The Tollgate dashboard: plain ES modules, no framework. Every value from the
// API reaches the page as text (textContent), never as HTML. This module
// signs in and out and shows the view of the signed-in role.
import { $, api, failure, page } from './dom.js';
import { destroyCharts } from './charts.js';
import { customerView } from './customer-view.js';
import { providerView } from './provider-view.js';

let refreshView = async () => {};
page.sessionEnded = (message) => showSignIn(message);

function showSignIn(message = '') {
  page.session = null;
  destroyCharts();
  $('view').replaceChildren();
  $('signin').hidden = false;
  $('refresh').hidden = true;
  $('signout').hidden = true;
  $('who').textContent = '';
  $('signin-error').textContent = message;
  $('token').focus();
}

async function start(answer) {
  page.session = answer;
  $('signin').hidden = true;
  $('refresh').hidden = false;
  $('signout').hidden = false;
  $('who').textContent = answer.role === 'admin' ? 'Provider' : `Customer ${answer.group_id}, app ${answer.app_id}`;
  document.body.dataset.role = answer.role;
  try {
    refreshView = answer.role === 'admin' ? providerView() : customerView();
    await refreshView();
    document.body.dataset.ready = 'true';
  } catch (error) {
    if (page.session !== null) failure($('view'), error);
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
