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

/** Script errors and console errors (a CSP violation or a missing file shows as one), but the 401 and 403 the test provokes. */
function watchErrors(page: Page): string[] {
  const seen: string[] = [];
  page.on('pageerror', (error) => seen.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // The answers the test provokes on purpose: the sign-in page's session probe, a wrong token, a customer at the provider's API.
    if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 40[13]\b/.test(message.text())) {
      seen.push(`console: ${message.text()}`);
    }
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

async function check(key: string): Promise<{ allowed: boolean; code: string }> {
  const res = await request(`${server.url}/v1/check`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key, usage_type: 'image' },
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
