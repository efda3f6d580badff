import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../src/clock.js';
import { DataDirInUseError } from '../src/store/data-dir-lock.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { ADMIN_TOKEN } from './helpers/server.js';
import { spawnServer } from './helpers/process.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-lock-'));
  dirs.push(dir);
  return dir;
};
const open = (dataDir: string) => new SqliteStore({ dataDir, clock: systemClock, idempotencyWindowMs: 86_400_000, rollupFlushMs: 50 });

test('one store per data directory: a second open fails until the first is closed', async () => {
  const dataDir = tempDir();
  const first = open(dataDir);
  assert.throws(() => open(dataDir), DataDirInUseError);
  await first.close();
  const again = open(dataDir);
  await again.close();
});

test('a lock left by a process that is gone is taken over', async () => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'tollgate.lock'), '2147483646\n');
  const store = open(dataDir);
  assert.equal(await store.healthy(), true);
  await store.close();
});

test('a second tollgate serve on the same data directory stops with a clear message', { timeout: 30_000 }, async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir, { env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN } });
  const second = await promisify(execFile)(process.execPath, [new URL('../src/cli/bin.js', import.meta.url).pathname, 'serve'], {
    env: { ...process.env, PORT: '0', TOLLGATE_DATA_DIR: dataDir, TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN },
  }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((second as { code: number }).code, 1);
  assert.match((second as { stderr: string }).stderr, new RegExp(`in use by process ${server.child.pid}`));
  server.child.kill('SIGTERM');
  assert.equal((await server.exited).code, 0);
});
