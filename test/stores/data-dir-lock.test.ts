import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { DataDirInUseError } from '../../src/store/data-dir-lock.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ADMIN_TOKEN, request } from '../helpers/server.js';
import { CLI, spawnServer } from '../helpers/process.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-lock-'));
  dirs.push(dir);
  return dir;
};
const open = (dataDir: string) => new SqliteStore({ dataDir, clock: systemClock, idempotencyWindowMs: 86_400_000, rollupFlushMs: 50 });
const env = { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN };

/** The state letter of a process in /proc (R, S, Z for a zombie...), or null once it is gone. */
function processState(pid: number): string | null {
  try {
    return /^\d+ \(.*\) (\S)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

async function until(what: string, condition: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('one store per data directory: a second open in the same process fails until the first is closed', async () => {
  const dataDir = tempDir();
  const first = open(dataDir);
  assert.throws(() => open(dataDir), (error: Error) => error instanceof DataDirInUseError && /already open in this process; share that store/.test(error.message));
  // The same directory by another path is the same directory.
  assert.throws(() => open(`${dataDir}/.`), DataDirInUseError);
  await first.close();
  const again = open(dataDir);
  await again.close();
});

test('a pid lock file left by an older release, naming a process that is gone, is taken over', async () => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'tollgate.lock'), '2147483646\n');
  const store = open(dataDir);
  assert.equal(await store.healthy(), true);
  await store.close();
});

test('a lock file naming this very process (a container\'s pid 1, started again after a crash) is taken over', async () => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'tollgate.lock'), `${process.pid}\n`);
  const store = open(dataDir);
  assert.equal(await store.healthy(), true);
  await store.close();
});

test('a second tollgate serve on the same data directory stops with a clear message', { timeout: 30_000 }, async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir, { env });
  const second = await promisify(execFile)(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, PORT: '0', TOLLGATE_DATA_DIR: dataDir, ...env },
  }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((second as { code: number }).code, 1);
  assert.match((second as { stderr: string }).stderr, new RegExp(`in use by another process \\(pid ${server.child.pid}\\); one Tollgate process per data directory`));
  server.child.kill('SIGTERM');
  assert.equal((await server.exited).code, 0);
});

test('started again right after kill -9, while the killed server is not yet reaped (a zombie), the server starts', { timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  // The server's parent is a shell that becomes `sleep`, which never waits for it: once killed, it stays a zombie.
  const parent = await spawnServer(dataDir, { env, wrap: ['sh', '-c', '"$@" & echo "server pid $!"; exec sleep infinity', 'sh'] });
  const pid = Number(/^server pid (\d+)$/m.exec(parent.output())?.[1]);
  try {
    process.kill(pid, 'SIGKILL');
    await until('the killed server to be a zombie', () => processState(pid) === 'Z');
    const again = await spawnServer(dataDir, { env });
    assert.equal((await request(`${again.url}/healthz`)).status, 200);
    assert.equal(processState(pid), 'Z', 'the first server was still unreaped when the second started');
    again.child.kill('SIGTERM');
    assert.deepEqual(await again.exited, { code: 0, signal: null }, again.errors());
  } finally {
    if (processState(pid) !== 'Z' && processState(pid) !== null) process.kill(pid, 'SIGKILL');
    parent.child.kill('SIGKILL'); // the zombie goes with its parent
    await parent.exited;
  }
});

const unshare = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']);
const noUnshare = unshare.error !== undefined || unshare.status !== 0
  ? `unshare --pid cannot run here (${unshare.error?.message ?? unshare.stderr.toString().trim()}); the test above with this process's own pid covers the same case`
  : false;

test('as pid 1 in a fresh pid namespace (a container), over a lock file naming pid 1, the server starts', { skip: noUnshare, timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'tollgate.lock'), '1\n');
  const server = await spawnServer(dataDir, { env, wrap: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'] });
  assert.equal((await request(`${server.url}/healthz`)).status, 200);
  // unshare waits for its child, the server: stopped with SIGTERM, it exits 0 and so does unshare.
  const pid = Number(readFileSync(`/proc/${server.child.pid}/task/${server.child.pid}/children`, 'utf8').trim());
  assert.equal(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^NSpid:.*\s(\d+)$/m)?.[1], '1', 'the server is pid 1 in its namespace');
  process.kill(pid, 'SIGTERM');
  assert.deepEqual(await server.exited, { code: 0, signal: null }, server.errors());
});
