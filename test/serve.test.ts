import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { request } from './helpers/server.js';
import { CLI, spawnServer } from './helpers/process.js';

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
  const result = await run(process.execPath, [new URL('../src/cli/bin.js', import.meta.url).pathname, 'serve'], { env: { ...process.env, PORT: 'eighty' } }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((result as { code: number }).code, 2);
  assert.match((result as { stderr: string }).stderr, /PORT must be a whole number/);
});

test('serve --config reads settings from a file, and a bad file stops the start with exit code 2', async () => {
  const file = join(dataDir, 'bad-config.yaml');
  writeFileSync(file, 'port: 8080\nredisUrl: redis://127.0.0.1:6379\n');
  const result = await run(process.execPath, [new URL('../src/cli/bin.js', import.meta.url).pathname, 'serve', '--config', file], { timeout: 15_000 }).catch((e: { code: number; stderr: string }) => e);
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
