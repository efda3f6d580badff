import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { ADMIN_TOKEN, request } from '../helpers/server.js';
import { CLI, spawnServer } from '../helpers/process.js';

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-serve-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

test('first start: generates the admin token, prints it once, keeps only its hash; --demo prints curl commands that work', { timeout: 60_000 }, async () => {
  const env = { TOLLGATE_ADMIN_TOKEN: '' };
  const server = await spawnServer(dataDir, { env, args: ['--demo'] });
  await waitFor(() => /app_key: /.test(server.output()));
  const out = server.output();
  const token = /Admin token \(generated; shown this once, only its hash is kept\): (tga_\S+)/.exec(out)?.[1];
  assert.ok(token, out);
  assert.equal((await request(`${server.url}/healthz`)).status, 200);
  assert.equal((await request(`${server.url}/admin/plans`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  assert.deepEqual(readdirSync(dataDir).filter((f) => f.startsWith('admin')), ['admin-token.sha256']);
  assert.ok(!readFileSync(join(dataDir, 'admin-token.sha256'), 'utf8').includes(token));

  // The printed curl commands, pasted into a shell as they are.
  const commands = out.split('\n# ').slice(1).map((block) => block.split('\n').slice(1).join('\n').trim());
  assert.equal(commands.length, 3);
  const [checkCurl, usageCurl, ocrCurl] = commands as [string, string, string];
  assert.ok(checkCurl.includes(token), 'the generated token is in the command, so it works as pasted');
  const check = JSON.parse((await run('bash', ['-c', checkCurl], { env: { ...process.env, TOLLGATE_ADMIN_TOKEN: '' } })).stdout);
  assert.equal(check.allowed, true);
  const usage = JSON.parse((await run('bash', ['-c', usageCurl])).stdout);
  assert.deepEqual(usage.monthly_used, 1);
  assert.equal(usage.monthly_quota, 1000);
  const ocr = JSON.parse((await run('bash', ['-c', ocrCurl])).stdout);
  assert.equal(ocr.ocr_usage[0].count, 1);
  assert.equal(ocr.ocr_usage[0].usage_type, 'image');

  // SIGTERM: a clean stop, exit code 0, nothing acknowledged lost.
  server.child.kill('SIGTERM');
  assert.deepEqual(await server.exited, { code: 0, signal: null });

  const again = await spawnServer(dataDir, { env });
  assert.match(again.output(), /Admin token: as printed at first start/);
  assert.ok(!again.output().includes(token));
  const key = /Demo key \(shown this once\): (\S+)/.exec(out)![1]!;
  const afterRestart = await request(`${again.url}/v1/usage`, { headers: { 'x-api-key': key } });
  assert.equal(afterRestart.body.monthly_used, 1);
  again.child.kill('SIGINT');
  assert.equal((await again.exited).code, 0);
});

test('started again with --demo: the demo customer is reused, its key replaced (one live demo key), and the dashboard shown with how to sign in', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-serve-demo-'));
  const env = { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN };
  const demoKey = (out: string) => /^Demo key \(shown this once\): (\S+)$/m.exec(out)?.[1];
  try {
    const first = await spawnServer(dir, { env, args: ['--demo'] });
    await waitFor(() => /app_key: /.test(first.output()));
    const firstKey = demoKey(first.output())!;
    assert.equal((await request(`${first.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { key: firstKey, usage_type: 'image' } })).body.allowed, true);
    assert.match(first.output(), new RegExp(`^Dashboard: ${first.url}/dashboard \\(sign in with the admin token\\)$`, 'm'));
    assert.match(first.output(), new RegExp(`^Dashboard: ${first.url}/dashboard: sign in with the admin token .*, or with the demo key `, 'm'));
    assert.doesNotMatch(first.output(), /previous demo key/);
    first.child.kill('SIGTERM');
    assert.equal((await first.exited).code, 0);

    const again = await spawnServer(dir, { env, args: ['--demo'] });
    await waitFor(() => /app_key: /.test(again.output()));
    const secondKey = demoKey(again.output())!;
    assert.ok(secondKey && secondKey !== firstKey, again.output());
    assert.match(again.output(), new RegExp(`^The previous demo key \\(${firstKey.slice(0, 6)}\\S*\\) was revoked`, 'm'));
    const keys = (await request(`${again.url}/admin/apps/demo-app/keys`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body.items as Array<{ revoked_at: string | null }>;
    assert.deepEqual([keys.length, keys.filter((k) => k.revoked_at === null).length], [2, 1], 'one live demo key');
    assert.equal((await request(`${again.url}/v1/usage`, { headers: { 'x-api-key': firstKey } })).status, 401);
    const usage = await request(`${again.url}/v1/usage`, { headers: { 'x-api-key': secondKey } });
    assert.equal(usage.body.monthly_used, 1, 'the same demo customer, with its usage');
    assert.equal((await request(`${again.url}/admin/groups`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body.items.length, 1);

    // The dashboard printed, and both ways in that it names.
    assert.equal((await fetch(`${again.url}/dashboard`)).status, 200);
    const asProvider = await request(`${again.url}/dashboard/session`, { method: 'POST', body: { token: ADMIN_TOKEN } });
    assert.equal(asProvider.body.role, 'admin', JSON.stringify(asProvider.body));
    const asCustomer = await request(`${again.url}/dashboard/session`, { method: 'POST', body: { token: secondKey } });
    assert.deepEqual([asCustomer.body.role, asCustomer.body.group_id], ['customer', 'demo-group']);
    again.child.kill('SIGTERM');
    assert.equal((await again.exited).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a first start whose port is taken fails and keeps no admin token; the next start generates and prints one that works', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-serve-port-'));
  const taken = createServer();
  try {
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    const failed = await run(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', TOLLGATE_DATA_DIR: dir, TOLLGATE_ADMIN_TOKEN: '' }, timeout: 20_000,
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal((failed as { code: number }).code, 1);
    assert.match((failed as { stderr: string }).stderr, /EADDRINUSE/);
    assert.doesNotMatch((failed as { stdout: string }).stdout, /Admin token/, 'no token was shown');
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('admin')), [], 'and none was kept');
    await new Promise((resolve) => taken.close(resolve));

    const server = await spawnServer(dir, { env: { TOLLGATE_ADMIN_TOKEN: '' } });
    const token = /^Admin token \(generated; shown this once, only its hash is kept\): (tga_\S+)$/m.exec(server.output())?.[1];
    assert.ok(token, server.output());
    assert.equal((await request(`${server.url}/admin/plans`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
    const again = await spawnServer(dir, { env: { TOLLGATE_ADMIN_TOKEN: '' } });
    assert.match(again.output(), /^Admin token: as printed at first start/m);
    assert.equal((await request(`${again.url}/admin/plans`, { headers: { authorization: `Bearer ${token}` } })).status, 200, 'the printed token was kept');
    again.child.kill('SIGTERM');
    assert.equal((await again.exited).code, 0);
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second stop signal while stopping does not cut the clean stop short', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-serve-twice-'));
  try {
    const server = await spawnServer(dir, { env: { TOLLGATE_ADMIN_TOKEN: 'test-admin-token-0123456789abcdef' } });
    let exited = false;
    void server.exited.then(() => { exited = true; });
    // Keep signalling until it is gone: every signal after the first lands while it stops.
    for (let i = 0; !exited && i < 2_000; i += 1) {
      server.child.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGINT');
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.deepEqual(await server.exited, { code: 0, signal: null }, server.errors());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid configuration: a clear message and exit code 2', async () => {
  const result = await run(process.execPath, [new URL('../../src/cli/bin.js', import.meta.url).pathname, 'serve'], { env: { ...process.env, PORT: 'eighty' } }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((result as { code: number }).code, 2);
  assert.match((result as { stderr: string }).stderr, /PORT must be a whole number/);
});

test('serve --config reads settings from a file, and a bad file stops the start with exit code 2', async () => {
  const file = join(dataDir, 'bad-config.yaml');
  writeFileSync(file, 'port: 8080\nredisUrl: redis://127.0.0.1:6379\n');
  const result = await run(process.execPath, [new URL('../../src/cli/bin.js', import.meta.url).pathname, 'serve', '--config', file], { timeout: 15_000 }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((result as { code: number }).code, 2);
  assert.match((result as { stderr: string }).stderr, /scale-out mode needs both TOLLGATE_DATABASE_URL and TOLLGATE_REDIS_URL/);
});

test('a placeholder admin token stops a start beyond loopback (exit 2, how to make one) and is only warned about on loopback', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-serve-weak-'));
  try {
    const env = { ...process.env, TOLLGATE_DATA_DIR: dir, PORT: '0', TOLLGATE_ADMIN_TOKEN: 'change-me-to-a-long-random-string' };
    const refused = await run(process.execPath, [CLI, 'serve'], { env: { ...env, HOST: '0.0.0.0' }, timeout: 15_000 }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal((refused as { code: number }).code, 2);
    assert.match((refused as { stderr: string }).stderr, /TOLLGATE_ADMIN_TOKEN is a placeholder, not a secret\. Tollgate listens on 0\.0\.0\.0, beyond this machine: .*openssl rand -base64 32/);
    assert.doesNotMatch((refused as { stdout: string }).stdout, /listening/, 'it never listened');

    const local = await spawnServer(dir, { env: { TOLLGATE_ADMIN_TOKEN: 'change-me-to-a-long-random-string' } });
    try {
      assert.match(local.output(), /^Warning: TOLLGATE_ADMIN_TOKEN is a placeholder, not a secret\. Accepted only because Tollgate listens on 127\.0\.0\.1 \(loopback\)/m);
      assert.equal((await request(`${local.url}/admin/plans`, { headers: { authorization: 'Bearer change-me-to-a-long-random-string' } })).status, 200);
    } finally {
      local.child.kill('SIGTERM');
      await local.exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('`tollgate admin-token rotate` and a restart end the dashboard sessions signed in with the old token', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-serve-rotate-'));
  try {
    const env = { TOLLGATE_ADMIN_TOKEN: '' };
    const first = await spawnServer(dir, { env });
    const oldToken = /Admin token \(generated; shown this once, only its hash is kept\): (tga_\S+)/.exec(first.output())![1]!;
    const signed = await request(`${first.url}/dashboard/session`, { method: 'POST', body: { token: oldToken } });
    assert.equal(signed.status, 200);
    const cookie = signed.headers.get('set-cookie')!.split(';')[0]!;
    assert.equal((await request(`${first.url}/dashboard/api/admin/groups`, { headers: { cookie } })).status, 200);

    const rotated = await run(process.execPath, [CLI, 'admin-token', 'rotate', '--data-dir', dir], { env: { ...process.env, ...env } });
    const newToken = /New admin token \(shown this once\): (tga_\S+)/.exec(rotated.stdout)![1]!;
    first.child.kill('SIGTERM');
    assert.equal((await first.exited).code, 0);

    const second = await spawnServer(dir, { env });
    try {
      // The same server secret (kept in the data directory) still opens the cookie: only the token's hash in it ends the session.
      const groups = await request(`${second.url}/dashboard/api/admin/groups`, { headers: { cookie } });
      assert.equal(groups.status, 401, JSON.stringify(groups.body));
      assert.equal(groups.body.error, 'unauthorized');
      assert.equal((await request(`${second.url}/dashboard/session`, { headers: { cookie } })).status, 401);
      assert.equal((await request(`${second.url}/admin/plans`, { headers: { authorization: `Bearer ${oldToken}` } })).status, 401);
      assert.equal((await request(`${second.url}/dashboard/session`, { method: 'POST', body: { token: newToken } })).status, 200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}
