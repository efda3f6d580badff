import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { type Command, CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { hashSecret } from '../../src/domain/secrets.js';
import { ADMIN_TOKEN, adminClient, type AdminClient, setupCustomer, startTestServer, type TestServer } from '../helpers/server.js';

const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: TestServer;
let admin: AdminClient;
before(async () => {
  server = await startTestServer();
  admin = adminClient(server.url);
});
after(async () => { await server.close(); });

/**
 * Runs the built CLI against the test server; `env` entries win, and an
 * undefined one is left out. Resolves with the exit code whatever it is.
 */
function tollgate(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const merged: Record<string, string | undefined> = { ...process.env, TOLLGATE_URL: server.url, TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN, ...env };
  const childEnv = Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { env: childEnv, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(error);
      else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}

/** Runs the CLI and fails with its stderr unless it exits 0. */
async function ok(args: string[], env?: Record<string, string | undefined>): Promise<string> {
  const run = await tollgate(args, env);
  assert.equal(run.code, 0, `tollgate ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

/** Runs the CLI with --json and parses what it printed. */
async function json<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await ok([...args, '--json'])) as T;
}

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

/** A plan, a group on it and an app in the group, made over the admin API (the CLI's own tests make them below). */
async function customer(): Promise<{ planId: string; groupId: string; appId: string }> {
  const { planId, groupId, appId } = await setupCustomer(admin, { monthlyQuota: 100 });
  return { planId, groupId, appId };
}

/** Creates a key with the CLI's text output and returns the secret it printed. */
async function createKey(appId: string): Promise<{ secret: string; stdout: string }> {
  const stdout = await ok(['keys', 'create', appId, '--name', 'cli']);
  const match = /^Secret key: (\S+)$/m.exec(stdout);
  assert.ok(match, `no secret in:\n${stdout}`);
  return { secret: match[1]!, stdout };
}

const check = (key: string) => admin.post('/v1/check', { key, usage_type: 'image' });

describe('help', () => {
  test('tollgate --help exits 0 and lists the admin commands', async () => {
    const stdout = await ok(['--help']);
    for (const command of ['serve', 'plans', 'groups', 'apps', 'keys', 'service-tokens', 'usage', 'demo']) {
      assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'), `${command} missing from:\n${stdout}`);
    }
  });

  test('a resource --help lists its subcommands, and a subcommand --help its options', async () => {
    const keys = await ok(['keys', '--help']);
    for (const sub of ['create', 'list', 'show', 'revoke']) assert.match(keys, new RegExp(`^  ${sub}\\b`, 'm'));
    const create = await ok(['plans', 'create', '--help'], { TOLLGATE_ADMIN_TOKEN: undefined });
    for (const option of ['--monthly-quota <n>', '--rate-limit <n>', '--price-per-call', '--time-zone', '--url', '--token', '--json']) {
      assert.ok(create.includes(option), `${option} missing from:\n${create}`);
    }
  });
});

describe('plans', () => {
  test('create stores the plan the API then shows, and --json prints its JSON', async () => {
    const id = unique('plan');
    const created = await json(['plans', 'create', id, '--monthly-quota', '1000', '--rate-limit', '60', '--price-per-call', '0.01', '--time-zone', 'Asia/Kolkata']);
    assert.equal(created.id, id);
    const stored = await admin.get(`/admin/plans/${id}`);
    assert.equal(stored.status, 200);
    assert.deepEqual(
      { monthly_quota: stored.body.monthly_quota, rate_limit_per_minute: stored.body.rate_limit_per_minute, price_per_call: stored.body.price_per_call, time_zone: stored.body.time_zone },
      { monthly_quota: 1000, rate_limit_per_minute: 60, price_per_call: '0.01', time_zone: 'Asia/Kolkata' },
    );
    assert.deepEqual(created, stored.body);
  });

  test('list and show print tables with the headers and the plan', async () => {
    const id = unique('plan');
    await ok(['plans', 'create', id, '--monthly-quota', '-1', '--rate-limit', '5']);
    const list = await ok(['plans', 'list', '--limit', '1000']);
    const [header, ...rows] = list.split('\n');
    assert.match(header!, /^ID\s+MONTHLY QUOTA\s+RATE LIMIT\/MIN\s+PRICE\/CALL\s+CURRENCY\s+PRICES\s+TIME ZONE\s+CREATED\s+UPDATED$/);
    const row = rows.find((line) => line.startsWith(`${id} `));
    assert.ok(row, `${id} missing from:\n${list}`);
    assert.match(row, new RegExp(`^${id}\\s+unlimited\\s+5\\s+-\\s+USD\\s+-\\s+UTC\\s`));
    // Columns line up: every cell starts where its header does.
    assert.equal(row.indexOf('unlimited'), header!.indexOf('MONTHLY QUOTA'));
    const show = await ok(['plans', 'show', id]);
    assert.match(show, new RegExp(`^ID\\s+${id}$`, 'm'));
    assert.match(show, /^RATE LIMIT\/MIN\s+5$/m);
  });

  test('list pages with --limit and --after', async () => {
    await ok(['plans', 'create', unique('plan'), '--monthly-quota', '1', '--rate-limit', '1']);
    await ok(['plans', 'create', unique('plan'), '--monthly-quota', '1', '--rate-limit', '1']);
    const first = await json(['plans', 'list', '--limit', '1']);
    assert.equal(first.items.length, 1);
    assert.equal(typeof first.next, 'string');
    const text = await ok(['plans', 'list', '--limit', '1']);
    assert.match(text, new RegExp(`More: add --after ${first.next}`));
    const second = await json(['plans', 'list', '--limit', '1', '--after', first.next]);
    assert.equal(second.items.length, 1);
    assert.ok(second.items[0].id > first.items[0].id);
  });

  test('update changes only the fields given', async () => {
    const id = unique('plan');
    await ok(['plans', 'create', id, '--monthly-quota', '10', '--rate-limit', '10']);
    await ok(['plans', 'update', id, '--rate-limit', '20', '--price-per-call', '0.5']);
    const stored = await admin.get(`/admin/plans/${id}`);
    assert.equal(stored.body.monthly_quota, 10);
    assert.equal(stored.body.rate_limit_per_minute, 20);
    assert.equal(stored.body.price_per_call, '0.5');
  });

  test('update with nothing to change fails and names the options', async () => {
    const run = await tollgate(['plans', 'update', 'whatever']);
    assert.equal(run.code, 2, 'a usage error, found before any call');
    assert.match(run.stderr, /nothing to change.*--monthly-quota.*--time-zone/);
  });
});

describe('groups and apps', () => {
  test('groups create, show, list and update', async () => {
    const planId = unique('plan');
    const otherPlan = unique('plan');
    await ok(['plans', 'create', planId, '--monthly-quota', '5', '--rate-limit', '5']);
    await ok(['plans', 'create', otherPlan, '--monthly-quota', '5', '--rate-limit', '5']);
    const group = await json(['groups', 'create', '--name', 'Acme Corp', '--plan', planId]);
    assert.match(group.id, /\S/);
    assert.equal((await admin.get(`/admin/groups/${group.id}`)).body.name, 'Acme Corp');

    const list = await ok(['groups', 'list', '--limit', '1000']);
    assert.match(list, /^ID\s+NAME\s+PLAN\s+CREATED\s+UPDATED$/m);
    assert.match(list, new RegExp(`^${group.id}\\s+Acme Corp\\s+${planId}\\s`, 'm'));

    await ok(['groups', 'update', group.id, '--plan', otherPlan, '--name', 'Acme']);
    const stored = await admin.get(`/admin/groups/${group.id}`);
    assert.equal(stored.body.plan_id, otherPlan);
    assert.equal(stored.body.name, 'Acme');
    assert.match(await ok(['groups', 'show', group.id]), new RegExp(`^PLAN\\s+${otherPlan}$`, 'm'));
  });

  test('apps create with limits, list by group, and update "none" removes a limit', async () => {
    const { groupId } = await customer();
    const appId = unique('app');
    await ok(['apps', 'create', groupId, '--id', appId, '--name', 'Mobile', '--monthly-quota', '50', '--rate-limit', '7']);
    let stored = await admin.get(`/admin/apps/${appId}`);
    assert.deepEqual([stored.body.name, stored.body.monthly_quota, stored.body.rate_limit_per_minute], ['Mobile', 50, 7]);

    const list = await ok(['apps', 'list', '--group', groupId]);
    assert.match(list, /^APP ID\s+GROUP\s+NAME\s+MONTHLY QUOTA\s+RATE LIMIT\/MIN\s+CREATED\s+UPDATED$/m);
    assert.match(list, new RegExp(`^${appId}\\s+${groupId}\\s+Mobile\\s+50\\s+7\\s`, 'm'));
    assert.equal(list.trim().split('\n').length, 3, 'the header and the group\'s two apps');

    await ok(['apps', 'update', appId, '--monthly-quota', 'none', '--rate-limit', '-1']);
    stored = await admin.get(`/admin/apps/${appId}`);
    assert.equal(stored.body.monthly_quota, null);
    assert.equal(stored.body.rate_limit_per_minute, -1);
    const show = await ok(['apps', 'show', appId]);
    assert.match(show, /^MONTHLY QUOTA\s+none$/m);
    assert.match(show, /^RATE LIMIT\/MIN\s+unlimited$/m);
  });
});

describe('limits', () => {
  test('plans create and update take --limit, --credits-per-unit and --grant-every-period; show lists them', async () => {
    const id = unique('plan');
    const created = await json(['plans', 'create', id, '--monthly-quota', '1000', '--rate-limit', '60',
      '--limit', 'images-month:billing_period:500:image,image-async', '--limit', 'burst:second:20:key',
      '--credits-per-unit', 'image=1', '--credits-per-unit', '*=2', '--grant-every-period', '10000:all']);
    assert.deepEqual(created.limits, [
      { name: 'images-month', usage_types: ['image', 'image-async'], window: 'billing_period', units: 500, scope: 'group' },
      { name: 'burst', usage_types: null, window: 'second', units: 20, scope: 'key' },
    ]);
    assert.deepEqual(created.credits, { per_unit: { image: 1, '*': 2 }, grant_every_period: { amount: 10000, rollover: 'all' } });
    const show = await ok(['plans', 'show', id]);
    assert.match(show, /^LIMITS\s+images-month: 500 per billing_period \(group; image, image-async\); burst: 20 per second \(key\)$/m);
    assert.match(show, /^CREDITS\/UNIT\s+image=1, \*=2$/m);

    await ok(['plans', 'update', id, '--grant-every-period', '50:100']);
    let stored = (await admin.get(`/admin/plans/${id}`)).body;
    assert.deepEqual(stored.credits, { per_unit: { image: 1, '*': 2 }, grant_every_period: { amount: 50, rollover: 100 } }, 'a grant alone keeps the prices');
    assert.equal(stored.limits.length, 2, 'limits not given stay');
    await ok(['plans', 'update', id, '--limit', 'none', '--credits-per-unit', 'none']);
    stored = (await admin.get(`/admin/plans/${id}`)).body;
    assert.deepEqual([stored.limits, stored.credits], [[], null]);
  });

  test('a bad --limit or --credits-per-unit is refused before any call; a reserved name is the API\'s 400, named by its option', async () => {
    const base = ['plans', 'create', unique('plan'), '--monthly-quota', '5', '--rate-limit', '5'];
    const window = await tollgate([...base, '--limit', 'a:week:5']);
    assert.equal(window.code, 2);
    assert.match(window.stderr, /--limit .*The limit's window must be one of: second, minute, hour, day, billing_period/);
    const price = await tollgate([...base, '--credits-per-unit', 'image=0.5']);
    assert.equal(price.code, 2);
    assert.match(price.stderr, /Expected usage-type=credits/);
    const reserved = await tollgate([...base, '--limit', 'month:day:5']);
    assert.equal(reserved.code, 2);
    assert.match(reserved.stderr, /reserved for the plan's monthly_quota/);
    const twice = await tollgate([...base, '--limit', 'a:day:5', '--limit', 'a:hour:5']);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /^tollgate: --limit at \[1\]\.name: the name "a" is used twice/);
  });

  test('limits show, set and unset: the plan\'s limits with the group\'s and an app\'s overrides applied', async () => {
    const planId = unique('plan');
    await ok(['plans', 'create', planId, '--monthly-quota', '1000', '--rate-limit', '-1', '--limit', 'pages-day:day:200:pdf']);
    const group = await json(['groups', 'create', '--name', 'Deal', '--plan', planId]);
    const appId = unique('app');
    await ok(['apps', 'create', group.id, '--id', appId]);

    const before = await ok(['limits', 'show', group.id]);
    assert.match(before, /^NAME\s+WINDOW\s+SCOPE\s+USAGE TYPES\s+FROM\s+UNITS\s+OVERRIDE\s+APPLIES$/m);
    assert.match(before, /^minute\s+minute\s+group\s+all\s+plan\s+unlimited\s+-\s+unlimited$/m);
    assert.match(before, /^pages-day\s+day\s+group\s+pdf\s+plan\s+200\s+-\s+200$/m);

    const set = await ok(['limits', 'set', group.id, 'pages-day', '5000']);
    assert.match(set, /^pages-day\s+day\s+group\s+pdf\s+plan\s+200\s+5000 \(group\)\s+5000$/m);
    await ok(['limits', 'set', group.id, 'month', 'none']);
    assert.deepEqual((await admin.get(`/admin/groups/${group.id}`)).body.limit_overrides, { 'pages-day': 5000, month: null });

    const app = await ok(['limits', 'set', group.id, 'pages-day', '10', '--app', appId]);
    assert.match(app, /^pages-day\s+day\s+group\s+pdf\s+plan\s+200\s+10 \(app\)\s+10$/m, "the app's override wins");
    assert.match(app, /^month\s+billing_period\s+group\s+all\s+plan\s+1000\s+lifted \(group\)\s+none$/m);
    assert.match(app, /^app-month\s+billing_period\s+app\s+all\s+app\s+none\s+-\s+none$/m);
    assert.deepEqual((await admin.get(`/admin/apps/${appId}`)).body.limit_overrides, { 'pages-day': 10 });

    await ok(['limits', 'unset', group.id, 'pages-day']);
    assert.deepEqual((await admin.get(`/admin/groups/${group.id}`)).body.limit_overrides, { month: null });
    const unknown = await tollgate(['limits', 'set', group.id, 'nope', '5']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^tollgate: <name> names no limit that applies here: "nope"/);
    const bad = await tollgate(['limits', 'set', group.id, 'month', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /<units> must be a whole number/);
    const shown = await json(['limits', 'show', group.id, '--app', appId]);
    assert.deepEqual(shown.app.limit_overrides, { 'pages-day': 10 });
  });
});

describe('keys', () => {
  test('create prints the secret once, and it passes the check API', async () => {
    const { appId } = await customer();
    const { secret, stdout } = await createKey(appId);
    assert.match(stdout, /not shown again/);
    const keyId = /^KEY ID\s+(\S+)$/m.exec(stdout)?.[1];
    assert.ok(keyId, stdout);
    const answer = await check(secret);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.allowed, true);
    assert.equal(answer.body.key_id, keyId);

    const list = await ok(['keys', 'list', '--app', appId]);
    assert.match(list, /^KEY ID\s+APP ID\s+GROUP\s+NAME\s+HINT\s+CREATED\s+EXPIRES\s+REVOKED$/m);
    assert.match(list, new RegExp(`^${keyId}\\s+${appId}\\s`, 'm'));
    assert.ok(!list.includes(secret), 'a list never shows the secret');
  });

  test('revoke makes the next check unauthorized', async () => {
    const { appId } = await customer();
    const { secret } = await createKey(appId);
    const keyId = (await check(secret)).body.key_id as string;
    const revoked = await ok(['keys', 'revoke', keyId]);
    assert.match(revoked, /^REVOKED\s+\d{4}-\d\d-\d\dT/m);
    const answer = await check(secret);
    assert.equal(answer.body.allowed, false);
    assert.equal(answer.body.code, 'unauthorized');
    assert.notEqual((await json(['keys', 'show', keyId])).revoked_at, null);
  });

  test('create --expires-at sends the instant, and --json holds the secret', async () => {
    const { appId } = await customer();
    const created = await json(['keys', 'create', appId, '--expires-at', '2099-01-01']);
    assert.equal(created.expires_at, '2099-01-01T00:00:00.000Z');
    assert.equal((await check(created.key)).body.allowed, true);
  });
});

describe('service tokens', () => {
  test('create prints a token for the check API; revoke stops it', async () => {
    const created = await ok(['service-tokens', 'create', '--name', 'backend']);
    const token = /^Service token.*: (\S+)$/m.exec(created)?.[1];
    const tokenId = /^TOKEN ID\s+(\S+)$/m.exec(created)?.[1];
    assert.ok(token && tokenId, created);
    const { appId } = await customer();
    const { secret } = await createKey(appId);
    const asService = () => adminClient(server.url, token).post('/v1/check', { key: secret, usage_type: 'image' });
    assert.equal((await asService()).body.allowed, true);

    assert.match(await ok(['service-tokens', 'list', '--limit', '1000']), new RegExp(`^${tokenId}\\s+backend\\s`, 'm'));
    await ok(['service-tokens', 'revoke', tokenId]);
    assert.equal((await asService()).status, 401);
  });
});

describe('usage', () => {
  test('shows the record and its count after two checks', async () => {
    const { appId, groupId } = await customer();
    const { secret } = await createKey(appId);
    for (let i = 0; i < 2; i++) assert.equal((await check(secret)).body.allowed, true);

    const answer = await json(['usage', groupId]);
    assert.equal(answer.ocr_usage.length, 1);
    assert.equal(answer.ocr_usage[0].usage_type, 'image');
    assert.equal(answer.ocr_usage[0].count, 2);

    const table = await ok(['usage', groupId, '--timespan', 'day']);
    assert.match(table, /^FROM\s+USAGE TYPE\s+COUNT$/m);
    assert.match(table, /^\d{4}-\d\d-\d\dT\S+\s+image\s+2$/m);
    const byApp = await ok(['usage', groupId, '--group-by', 'app_id']);
    assert.match(byApp, new RegExp(`^\\S+\\s+${appId}\\s+2$`, 'm'));
  });

  test('a bad --group-by is refused before any call', async () => {
    const run = await tollgate(['usage', 'any', '--group-by', 'colour']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--group-by.*colour.*usage_type/s);
  });
});

describe('statements', () => {
  test('the periods as a table, one statement as a table, JSON and CSV; prices set with plans create', async () => {
    const planId = unique('plan');
    const prices = '[{"usage_type": "image", "tiers": [{"up_to": 2, "unit_price": "0.5"}, {"up_to": null, "unit_price": "0.25"}]}]';
    await ok(['plans', 'create', planId, '--monthly-quota', '-1', '--rate-limit', '-1', '--price-per-call', '0.01', '--currency', 'EUR', '--prices', prices]);
    const shown = await ok(['plans', 'show', planId]);
    assert.match(shown, /^CURRENCY\s+EUR$/m);
    assert.match(shown, /^PRICES\s+image: 0\.5 to 2, 0\.25 to more$/m);
    const groupId = unique('group');
    await admin.post('/admin/groups', { id: groupId, name: 'g', plan_id: planId });
    await admin.post(`/admin/groups/${groupId}/apps`, { id: `${groupId}-app` });
    const { secret } = await createKey(`${groupId}-app`);
    for (let i = 0; i < 3; i++) assert.equal((await check(secret)).body.allowed, true);
    const period = new Date().toISOString().slice(0, 7);

    const list = await ok(['statements', groupId]);
    assert.match(list, /^PERIOD\s+STATUS\s+FROM\s+TO\s+CLOSED\s+TOTAL$/m);
    assert.match(list, new RegExp(`^${period}\\s+open\\s+\\S+\\s+\\S+\\s+-\\s+1\\.25 EUR$`, 'm'));

    const one = await ok(['statements', groupId, '--period', period]);
    assert.match(one, new RegExp(`^Statement of ${groupId} for ${period} \\(open, a preview; closes `, 'm'));
    assert.match(one, /^image\s+3\s+graduated\s+1\.25$/m);
    assert.match(one, /^  units 3-\s+1\s+0\.25\s+\(0\.25\)$/m);
    assert.match(one, /^TOTAL 1\.25 EUR$/m);

    const asJson = JSON.parse(await ok(['statements', groupId, '--period', period, '--format', 'json']));
    assert.deepEqual([asJson.total, asJson.currency, asJson.preview], [125, 'EUR', true]);
    const csv = await ok(['statements', groupId, '--period', period, '--format', 'csv']);
    assert.match(csv, new RegExp(`^line,${period},image,,,3,,125,1\\.25,EUR\r$`, 'm'));
  });

  test('a bad --period is refused before any call; an unknown group is the API\'s 404', async () => {
    const bad = await tollgate(['statements', 'any', '--period', '2026-13']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /YYYY-MM/);
    const unknown = await tollgate(['statements', unique('nope')]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No group with id .* \(not_found, HTTP 404\)/);
  });
});

describe('grants', () => {
  test('create with its options, list with the balance (voided ones with --all), void; a repeated idempotency key grants once', async () => {
    const { groupId } = await customer();
    const created = await ok(['grants', 'create', groupId, '500', '--expires-at', '2099-01-01T00:00:00Z', '--priority', '3', '--note', 'welcome', '--idempotency-key', 'w-1']);
    const id = /^ID +(crg_\S+)$/m.exec(created)?.[1];
    assert.ok(id, created);
    assert.match(created, /^REMAINING +500$/m);
    assert.match(created, /^EXPIRES +2099-01-01T00:00:00.000Z$/m);
    assert.match(created, /^PRIORITY +3$/m);
    assert.match(created, /^NOTE +welcome$/m);
    const again = await json(['grants', 'create', groupId, '500', '--expires-at', '2099-01-01T00:00:00Z', '--priority', '3', '--note', 'welcome', '--idempotency-key', 'w-1']);
    assert.equal(again.id, id, 'the first grant, not a second');
    const other = await json(['grants', 'create', groupId, '20']);

    const listed = await ok(['grants', 'list', groupId]);
    assert.match(listed, /^ID +AMOUNT +USED +REMAINING +PRIORITY +EXPIRES +STATUS +SOURCE +NOTE$/m);
    assert.match(listed, /^Balance: 520$/m);
    assert.match(await ok(['grants', 'void', groupId, other.id]), /^STATUS +voided$/m);
    const after = await json(['grants', 'list', groupId]);
    assert.deepEqual([after.items.map((g: any) => g.id), after.balance, after.debt], [[id], 500, 0]);
    assert.equal((await json(['grants', 'list', groupId, '--all'])).items.length, 2);
  });

  test('a bad amount is refused before any call; the API\'s refusals name the option', async () => {
    const { groupId } = await customer();
    const zero = await tollgate(['grants', 'create', groupId, '0']);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /Expected a whole number of credits, 1 or more/);
    const past = await tollgate(['grants', 'create', groupId, '5', '--expires-at', '2001-01-01T00:00:00Z']);
    assert.equal(past.code, 1);
    assert.equal(past.stderr.trim(), 'tollgate: --expires-at must be in the future. (invalid_request, HTTP 400)');
    const unknown = await tollgate(['grants', 'list', 'no-such-group']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No group with id "no-such-group"/);
    assert.deepEqual((await json(['grants', 'list', groupId])).items, []);
  });
});

describe('demo', () => {
  test('creates the demo customer, reuses it the second time, and prints working curl commands', async () => {
    const first = await ok(['demo']);
    const second = await ok(['demo']);
    const plan = await admin.get('/admin/plans/demo');
    assert.deepEqual([plan.body.monthly_quota, plan.body.rate_limit_per_minute, plan.body.price_per_call], [1000, 60, '0.01']);
    assert.equal((await admin.get('/admin/apps/demo-app')).body.group_id, 'demo-group');

    const secrets = [first, second].map((out) => /^Demo key \(shown this once\): (\S+)$/m.exec(out)?.[1]);
    assert.ok(secrets[0] && secrets[1] && secrets[0] !== secrets[1], 'each run issues a new key');
    // ... and revokes the one before: one live demo key at a time.
    assert.match(second, new RegExp(`^The previous demo key \\(${secrets[0].slice(0, 6)}\\S*\\) was revoked`, 'm'));
    assert.equal((await check(secrets[0])).body.code, 'unauthorized');
    const live = (await admin.get('/admin/apps/demo-app/keys')).body.items.filter((k: { revoked_at: string | null }) => k.revoked_at === null);
    assert.equal(live.length, 1);
    assert.match(second, new RegExp(`^Dashboard: ${server.url}/dashboard: sign in with the admin token .*or with the demo key`, 'm'));
    for (const fragment of [`curl -s -X POST '${server.url}/v1/check' -H "Authorization: Bearer $TOLLGATE_ADMIN_TOKEN"`,
      `"key": "${secrets[1]}"`, `'${server.url}/v1/usage'`, `-H 'x-api-key: ${secrets[1]}'`,
      `${server.url}/v3/ocr-usage?from_date=`, 'group_by=usage_type&timespan=month', `-H 'app_id: demo-app' -H 'app_key: ${secrets[1]}'`]) {
      assert.ok(second.includes(fragment), `${fragment} missing from:\n${second}`);
    }
    assert.ok(!second.includes(ADMIN_TOKEN), 'the admin token itself is not printed');
    assert.equal((await check(secrets[1]!)).body.allowed, true);
  });
});

describe('command line', () => {
  test('--version and -V print the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
    assert.equal(await ok(['--version']), `${version}\n`);
    assert.equal(await ok(['-V']), `${version}\n`);
  });

  test('no command takes an unknown option or an extra argument: each is refused (exit 2), never ignored', async () => {
    // Every command of the program, the groups (`plans`) and the root included, with what it requires.
    const all = (command: Command, path: string[] = []): string[][] => [path, ...command.commands.flatMap((sub) => all(sub, [...path, sub.name()]))];
    const quiet = (command: Command): void => {
      command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
      command.commands.forEach(quiet);
    };
    const commandAt = (program: Command, path: string[]) => path.reduce((c, name) => c.commands.find((sub) => sub.name() === name)!, program);
    const refusal = async (path: string[], extra: string[]): Promise<string | undefined> => {
      const program = buildProgram();
      quiet(program);
      const command = commandAt(program, path);
      const required = [
        ...command.registeredArguments.filter((a) => a.required).map(() => 'x'),
        ...command.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, '1']),
      ];
      return program.parseAsync([...path, ...required, ...extra], { from: 'user' }).then(
        () => 'accepted',
        (error: unknown) => (error instanceof CommanderError ? error.code : String(error)),
      );
    };
    const paths = all(buildProgram());
    assert.ok(paths.length > 30, `${paths.length} commands`);
    for (const path of paths) {
      assert.equal(await refusal(path, ['--no-such-option']), 'commander.unknownOption', `tollgate ${path.join(' ')} --no-such-option`);
      if (commandAt(buildProgram(), path).commands.length === 0) {
        assert.equal(await refusal(path, ['extra-argument']), 'commander.excessArguments', `tollgate ${path.join(' ')} extra-argument`);
      }
    }
    // As the CLI runs: the message names the option, exit code 2, nothing called.
    const run = await tollgate(['keys', 'create', 'any-app', '--monthly-quota', '5']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: unknown option '--monthly-quota'/);
  });

  test("the API's errors about a field name the option that set it, and the CLI's own checks too", async () => {
    const plan = await tollgate(['plans', 'create', unique('plan'), '--monthly-quota', '5', '--rate-limit', '5', '--time-zone', 'Mars/Base']);
    assert.equal(plan.code, 1);
    assert.equal(plan.stderr.trim(), 'tollgate: --time-zone must be an IANA time zone such as "UTC" or "Asia/Kolkata", got "Mars/Base". (invalid_request, HTTP 400)');
    const prices = await tollgate(['plans', 'create', unique('plan'), '--monthly-quota', '5', '--rate-limit', '5', '--prices', '[{"usage_type": "ocr"}]']);
    assert.match(prices.stderr, /^tollgate: --prices at \[0\] must have either "unit_price"/);
    const { groupId } = await customer();
    const app = await tollgate(['apps', 'create', groupId, '--id', 'not an id']);
    assert.match(app.stderr, /^tollgate: --id must match pattern/);
    const usage = await tollgate(['usage', groupId, '--from', '2030-01-01', '--to', '2029-01-01']);
    assert.match(usage.stderr, /^tollgate: --to \(2029-01-01T00:00:00.000Z\) must be after --from/);
    for (const run of [plan, prices, app, usage]) assert.doesNotMatch(run.stderr, /time_zone|body field|query parameter|from_date/);

    const price = await tollgate(['plans', 'create', unique('plan'), '--monthly-quota', '5', '--rate-limit', '5', '--price-per-call', 'cheap']);
    assert.equal(price.code, 2);
    assert.match(price.stderr, /--price-per-call <decimal>' argument 'cheap' is invalid\. Expected a decimal such as 0\.01/);
  });
});

describe('admin-token', () => {
  test('rotate prints a new token once, then keeps only its hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-rotate-'));
    try {
      const out = await ok(['admin-token', 'rotate', '--data-dir', dir]);
      const token = /^New admin token \(shown this once\): (tga_\S+)$/m.exec(out)?.[1];
      assert.ok(token, out);
      assert.deepEqual(readdirSync(dir), ['admin-token.sha256'], 'nothing else, no file written aside left over');
      assert.equal(readFileSync(join(dir, 'admin-token.sha256'), 'utf8'), `${hashSecret(token)}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('errors', () => {
  test('an unknown plan: exit 1, and the API error on stderr', async () => {
    const run = await tollgate(['groups', 'create', '--name', 'x', '--plan', 'no-such-plan']);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr.trim(), 'tollgate: No plan with id "no-such-plan". (not_found, HTTP 404)');
    const show = await tollgate(['plans', 'show', 'no-such-plan']);
    assert.equal(show.code, 1);
    assert.match(show.stderr, /no-such-plan.*\(not_found, HTTP 404\)/);
  });

  test('a bad integer is refused with a message, and nothing is created', async () => {
    const id = unique('plan');
    const run = await tollgate(['plans', 'create', id, '--monthly-quota', 'lots', '--rate-limit', '1']);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--monthly-quota.*'lots' is invalid.*whole number/);
    assert.equal((await admin.get(`/admin/plans/${id}`)).status, 404);
    const page = await tollgate(['plans', 'list', '--limit', '0']);
    assert.notEqual(page.code, 0);
    assert.match(page.stderr, /--limit.*from 1 to 1000/);
    const app = await tollgate(['apps', 'update', 'x', '--rate-limit', '2.5']);
    assert.notEqual(app.code, 0);
    assert.match(app.stderr, /--rate-limit.*"none"/);
  });

  test('a missing token: exit 1 and how to give one', async () => {
    const run = await tollgate(['plans', 'list'], { TOLLGATE_ADMIN_TOKEN: undefined });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no admin token: pass --token <token> or set TOLLGATE_ADMIN_TOKEN/);
  });

  test('a wrong token: exit 1 with the API answer; --token wins over the environment', async () => {
    const run = await tollgate(['plans', 'list', '--token', 'wrong-token-0123456789']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /admin token.*\(unauthorized, HTTP 401\)/);
    await ok(['plans', 'list', '--token', ADMIN_TOKEN], { TOLLGATE_ADMIN_TOKEN: 'wrong-token-0123456789' });
  });

  test('an unreachable server: exit 1 naming the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    const run = await tollgate(['plans', 'list', '--url', url]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`could not reach Tollgate at ${url} \\(.*ECONNREFUSED`));
  });
});
