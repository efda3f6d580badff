import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { adminClient, ADMIN_TOKEN, request, startTestServer, type AdminClient, type TestServer } from '../helpers/server.js';

/** Debian's Chromium (`apt-get install chromium`, as .ci/run does); playwright-core drives it, nothing is downloaded. */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = fileURLToPath(new URL('../../../test-output/dashboard/', import.meta.url));
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)`);

let server: TestServer;
let admin: AdminClient;
let browser: Browser;

before(async () => {
  if (missing) return;
  server = await startTestServer();
  admin = adminClient(server.url);
  assert.equal((await admin.post('/admin/plans', { id: 'starter', monthly_quota: 10, rate_limit_per_minute: -1, price_per_call: '0.25' })).status, 201);
  assert.equal((await admin.post('/admin/groups', { id: 'acme', name: 'Acme Corp', plan_id: 'starter' })).status, 201);
  assert.equal((await admin.post('/admin/groups/acme/apps', { id: 'acme-ocr', name: 'Acme OCR' })).status, 201);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/**
 * Script errors and console errors (a CSP violation or a missing file shows as one), but the answers with the
 * statuses the test provokes on purpose (by default the sign-in page's session probe, a wrong token, a customer
 * at the provider's API: 401 and 403).
 */
function watchErrors(page: Page, provoked: readonly number[] = [401, 403]): string[] {
  const seen: string[] = [];
  page.on('pageerror', (error) => seen.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    const status = /^Failed to load resource: the server responded with a status of (\d{3})\b/.exec(message.text())?.[1];
    if (message.type() === 'error' && !provoked.includes(Number(status))) seen.push(`console: ${message.text()}`);
  });
  return seen;
}

async function refreshed(page: Page): Promise<void> {
  await page.click('#refresh');
  await page.waitForSelector('body[data-ready="true"]');
}

async function screenshots(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const paths: string[] = [];
  for (const [width, height, label] of [[1280, 900, 'desktop'], [390, 844, 'phone']] as const) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(100);
    const path = `${SCREENSHOTS}${name}-${label}.png`;
    await page.screenshot({ path, fullPage: true });
    paths.push(path);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  return paths;
}

async function check(key: string, usageType = 'image', cost = 1): Promise<{ allowed: boolean; code: string }> {
  const res = await request(`${server.url}/v1/check`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key, usage_type: usageType, cost },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

test('the provider signs in, creates a key, sees its checks on the chart and the gauge; the customer sees their own usage', { skip: missing ? `${CHROMIUM} is not installed` : false, timeout: 120_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  page.on('dialog', (dialog) => void dialog.accept());
  const saved: string[] = [];

  await page.goto(`${server.url}/dashboard`);
  await page.waitForSelector('#signin-form');
  // A wrong token gets a clear error, and no session.
  await page.fill('#token', 'not-the-admin-token-at-all');
  await page.click('#signin-form button[type=submit]');
  // A selector, not a string for waitForFunction: Playwright evaluates such a string with eval in the page while it polls, which
  // the page's CSP (no 'unsafe-eval') refuses, and the test failed whenever the answer came later than the first evaluation.
  await page.waitForSelector('#signin-error:not(:empty)');
  assert.match(await page.textContent('#signin-error') ?? '', /Sign-in failed: it is neither the admin token nor an API key/);
  assert.deepEqual((await context.cookies()).filter((c) => c.name === 'tollgate_dashboard'), []);

  await page.fill('#token', ADMIN_TOKEN);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('body[data-ready="true"]');
  const [cookie] = (await context.cookies()).filter((c) => c.name === 'tollgate_dashboard');
  assert.ok(cookie !== undefined && cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/dashboard', JSON.stringify(cookie));
  assert.ok(!cookie.value.includes(ADMIN_TOKEN), 'the cookie does not carry the token');
  assert.equal(await page.evaluate('document.cookie'), '', 'scripts cannot read the session cookie');

  // The groups list shows Acme's quota gauge at zero; its page shows an empty chart.
  const row = page.locator('#groups-body tr[data-group="acme"]');
  assert.equal(await row.locator('[role=meter]').getAttribute('data-used'), '0');
  await row.locator('button.link').click();
  await page.waitForSelector('#group-gauge');
  await page.waitForSelector('#usage-chart[data-total]');
  assert.equal(await page.getAttribute('#group-gauge', 'aria-valuenow'), '0');
  assert.equal(await page.getAttribute('#group-gauge', 'aria-valuemax'), '10');
  assert.equal(await page.getAttribute('#usage-chart', 'data-total'), '0');

  // Create a key through the page: its secret is shown once.
  const app = page.locator('.app[data-app="acme-ocr"]');
  await app.locator('input[name=name]').fill('browser');
  await app.locator('button[type=submit]').click();
  const secret = page.locator('.new-key[data-app="acme-ocr"] code.secret');
  await secret.waitFor();
  const key = (await secret.textContent())!.trim();
  assert.match(key, /^tg_[1-9A-HJ-NP-Za-km-z]{20,}$/);
  await app.locator('tr[data-key] >> text=browser').waitFor();
  saved.push(...await screenshots(page, 'provider-new-key'));

  // Twelve checks with it over HTTP: ten admitted (the quota is 10), two refused.
  const outcomes = [];
  for (let i = 0; i < 12; i++) outcomes.push((await check(key)).code);
  assert.deepEqual(outcomes, [...Array(10).fill('ok'), 'quota_exceeded', 'quota_exceeded']);

  await refreshed(page);
  await page.waitForSelector('#group-gauge');
  assert.equal(await page.getAttribute('#group-gauge', 'aria-valuenow'), '10');
  assert.equal(await page.getAttribute('#group-gauge', 'data-percent'), '100');
  assert.match(await page.getAttribute('#group-gauge', 'class') ?? '', /\bover\b/);
  assert.equal(await page.getAttribute('#usage-chart', 'data-total'), '10');
  const points = await page.locator('#usage-chart tbody.points tr').allTextContents();
  assert.equal(points.length, 1, points.join('|'));
  assert.match(points[0]!, /image.*10/);
  assert.equal(await page.locator('#usage-chart-plot canvas').count(), 1, 'uPlot drew the chart');
  assert.equal(await page.locator('.secret').count(), 0, 'the secret is gone once the page is redrawn');
  assert.equal(await row.locator('[role=meter]').getAttribute('data-used'), '10');
  assert.match(await page.textContent('#top-consumers') ?? '', /acme\s*10/);
  assert.equal(await page.locator('#denials tr', { hasText: 'quota exceeded' }).count(), 2);
  assert.match(await page.textContent('#statements') ?? '', /2\.50 USD/);
  saved.push(...await screenshots(page, 'provider-after-checks'));

  // A second key, revoked through the page, is refused at once.
  await app.locator('input[name=name]').fill('to-revoke');
  await app.locator('button[type=submit]').click();
  await page.locator('.new-key[data-app="acme-ocr"] code.secret').waitFor();
  const doomed = (await page.locator('.new-key[data-app="acme-ocr"] code.secret').textContent())!.trim();
  const doomedRow = app.locator('tr[data-key]', { hasText: 'to-revoke' });
  await doomedRow.locator('button.danger').click();
  await doomedRow.locator('.badge', { hasText: 'revoked' }).waitFor();
  assert.equal((await check(doomed)).code, 'unauthorized');

  // Sign out, and in again as the customer with the first key.
  await page.click('#signout');
  await page.waitForSelector('#signin:not([hidden])');
  await page.fill('#token', key);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('body[data-ready="true"][data-role="customer"]');
  await page.waitForSelector('#usage-chart[data-total]');
  assert.equal(await page.getAttribute('#my-gauge', 'aria-valuenow'), '10');
  assert.equal(await page.textContent('#quota-left'), '0');
  assert.equal(await page.textContent('#rate-limit'), 'unlimited');
  assert.equal(await page.textContent('#current-amount'), '2.50 USD');
  assert.equal(await page.getAttribute('#usage-chart', 'data-total'), '10');
  saved.push(...await screenshots(page, 'customer'));
  // The provider's API is closed to a customer session.
  const forbidden = await page.evaluate(async () => (await fetch('/dashboard/api/admin/groups')).status);
  assert.equal(forbidden, 403);

  assert.deepEqual(errors, [], 'no script errors and nothing refused by the Content-Security-Policy');
  await context.close();
  console.log(`dashboard screenshots:\n  ${saved.join('\n  ')}`);
});

/** A limit's gauge as the page shows it: its numbers, the gauge's words and the window's. */
async function limitShown(page: Page, container: string, name: string): Promise<{ used: string | null; units: string | null; text: string }> {
  const limit = page.locator(`${container} .limit[data-limit="${name}"]`);
  const words = await limit.locator('.gauge .label, .limit-per').allTextContents();
  return { used: await limit.getAttribute('data-used'), units: await limit.getAttribute('data-units'), text: words.join(' | ') };
}

test('the provider grants credits from the form (a double submit grants once), sees the balance, the grant and the limits, voids it; the customer sees their gauges', { skip: missing ? `${CHROMIUM} is not installed` : false, timeout: 120_000 }, async () => {
  assert.equal((await admin.post('/admin/plans', {
    id: 'metered', monthly_quota: 1000, rate_limit_per_minute: -1, credits: { per_unit: { image: 1, pdf: 5 } },
    limits: [
      { name: 'images-month', usage_types: ['image'], window: 'billing_period', units: 20 },
      { name: 'pages-day', usage_types: ['pdf'], window: 'day', units: 10 },
      { name: 'burst', window: 'second', units: 100, scope: 'key' },
    ],
  })).status, 201);
  assert.equal((await admin.post('/admin/groups', { id: 'globex', name: 'Globex', plan_id: 'metered' })).status, 201);
  assert.equal((await admin.post('/admin/groups/globex/apps', { id: 'globex-ocr' })).status, 201);
  const key = (await admin.post('/admin/apps/globex-ocr/keys', { name: 'k' })).body.key as string;

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // And the 400 of a grant that expires in the past, shown beside the form.
  const errors = watchErrors(page, [400, 401, 403]);
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${server.url}/dashboard`);
  await page.fill('#token', ADMIN_TOKEN);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('body[data-ready="true"]');
  await page.locator('#groups-body tr[data-group="globex"] button.link').click();
  await page.locator('#grants td', { hasText: 'No grants yet.' }).waitFor();
  assert.equal(await page.textContent('#credit-balance'), '0');
  assert.match(await page.textContent('#plan-credits') ?? '', /image 1, pdf 5/);

  // A double submit of the form: both requests carry the key made when the form was shown, so one grant is made and the other answered it.
  const grantAnswers: number[] = [];
  const bothAnswered = new Promise<void>((resolve) => page.on('response', (response) => {
    if (response.request().method() === 'POST' && response.url().endsWith('/groups/globex/grants')) {
      grantAnswers.push(response.status());
      if (grantAnswers.length === 2) resolve();
    }
  }));
  await page.fill('#grant-form input[name=amount]', '500');
  await page.fill('#grant-form input[name=priority]', '1');
  await page.fill('#grant-form input[name=note]', 'welcome');
  await page.locator('#grant-form').evaluate((form) => {
    const submit = form as unknown as { requestSubmit(): void };
    submit.requestSubmit();
    submit.requestSubmit();
  });
  await bothAnswered;
  assert.deepEqual(grantAnswers.sort(), [200, 201]);
  const grants = (await admin.get('/admin/groups/globex/grants')).body;
  assert.deepEqual(grants.items.map((g: any) => [g.amount, g.priority, g.note]), [[500, 1, 'welcome']], 'granted once');
  const grantId = grants.items[0].id as string;
  const row = page.locator(`#grants tr[data-grant="${grantId}"]`);
  await row.waitFor();
  await page.locator('#credit-balance', { hasText: '500' }).waitFor();
  assert.equal(await page.inputValue('#grant-form input[name=amount]'), '', 'the form is cleared for the next grant');

  // An error from the API is shown beside the form.
  await page.fill('#grant-form input[name=amount]', '5');
  await page.fill('#grant-form input[name=expires_at]', '2020-01-01T00:00');
  await page.click('#grant-form button[type=submit]');
  await page.waitForSelector('#grant-error:not(:empty)');
  assert.match(await page.textContent('#grant-error') ?? '', /"expires_at" must be in the future/);
  assert.equal((await admin.get('/admin/groups/globex/grants')).body.items.length, 1);

  // Three images and two PDF pages: 3 + 2 × 5 credits.
  assert.deepEqual([await check(key), await check(key), await check(key), await check(key, 'pdf', 2)].map((c) => c.code), ['ok', 'ok', 'ok', 'ok']);
  await refreshed(page);
  await page.locator('#credit-balance', { hasText: '487' }).waitFor();
  assert.equal(await row.locator('.grant-amount').textContent(), '500');
  assert.equal(await row.locator('.grant-remaining').textContent(), '487');
  await page.waitForSelector('#group-limits .limit');
  assert.deepEqual(await page.locator('#group-limits .limit').evaluateAll((els) => els.map((el) => el.getAttribute('data-limit'))),
    ['month', 'images-month', 'pages-day'], "the group's own limits; the key's burst is the key's");
  assert.deepEqual(await limitShown(page, '#group-limits', 'month'), { used: '5', units: '1000', text: '5 of 1,000 (1%) | per billing period' });
  assert.deepEqual(await limitShown(page, '#group-limits', 'images-month'), { used: '3', units: '20', text: '3 of 20 (15%) | per billing period' });
  assert.deepEqual(await limitShown(page, '#group-limits', 'pages-day'), { used: '2', units: '10', text: '2 of 10 (20%) | per day' });
  assert.match(await page.locator('#group-limits .limit[data-limit="pages-day"] .limit-reset').textContent() ?? '', /^empties in \d+ (h|days?)$/);
  await screenshots(page, 'provider-credits');

  // Voided through the page: nothing is left to spend, and the next check is refused for want of credits.
  await row.locator('button.danger', { hasText: 'Void' }).click();
  await row.locator('.badge', { hasText: 'voided' }).waitFor();
  assert.equal(await page.textContent('#credit-balance'), '0');
  assert.equal((await check(key)).code, 'insufficient_credits');
  await refreshed(page);
  assert.equal(await page.locator('#denials tr', { hasText: 'out of credits' }).count(), 1, 'the activity feed names the refusal');

  // The customer sees every limit on their key, with its use.
  await page.click('#signout');
  await page.waitForSelector('#signin:not([hidden])');
  await page.fill('#token', key);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('body[data-ready="true"][data-role="customer"]');
  assert.deepEqual(await limitShown(page, '#my-limits', 'images-month'), { used: '3', units: '20', text: '3 of 20 (15%) | per billing period, group' });
  assert.deepEqual(await limitShown(page, '#my-limits', 'pages-day'), { used: '2', units: '10', text: '2 of 10 (20%) | per day, group' });
  assert.equal((await limitShown(page, '#my-limits', 'burst')).units, '100');
  assert.match((await limitShown(page, '#my-limits', 'burst')).text, /per second, key$/);
  assert.equal(await page.getAttribute('#my-gauge', 'aria-valuenow'), '5');
  assert.doesNotMatch(await page.textContent('#my-usage') ?? '', /null|undefined|NaN/);
  // The balance /v1/usage answers: the voided grant left nothing.
  assert.equal(await page.textContent('#my-credits'), '0');
  await screenshots(page, 'customer-limits');

  assert.deepEqual(errors, [], 'no script errors and nothing refused by the Content-Security-Policy');
  await context.close();
});
