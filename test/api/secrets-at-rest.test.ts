import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WEBHOOK_SECRET_FILE } from '../../src/alerts/signing.js';
import { loadConfig } from '../../src/config.js';
import { ADMIN_TOKEN_FILE } from '../../src/admin-token.js';
import { startTollgate } from '../../src/runtime.js';
import { assertNoSecret, filesUnder, issueAndUseSecrets } from '../helpers/secrets-at-rest.js';

// scale-out: reads the SQLite file and the data directory; test/stores/scale-out/security.test.ts reads every PostgreSQL row and Redis key.

const METRICS_TOKEN = 'metrics-token-kept-nowhere-0123456789';

test('the data directory (SQLite file, WAL, token files) holds no key or token in clear, only their hashes', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-at-rest-'));
  // No admin token given: one is generated, as on a first start, and only its hash written down.
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, metricsToken: METRICS_TOKEN, logLevel: 'silent', rollupFlushMs: 10 });
  const tollgate = await startTollgate(config, { logger: false });
  try {
    const adminToken = tollgate.adminToken.generated;
    assert.ok(adminToken !== null);
    const { secrets, keyHash } = await issueAndUseSecrets(tollgate.url, adminToken);
    const serverSecret = readFileSync(join(dataDir, WEBHOOK_SECRET_FILE), 'utf8').trim();
    const all = { ...secrets, metricsToken: METRICS_TOKEN };

    // While running: the WAL holds the latest writes.
    await new Promise((r) => setTimeout(r, 100));
    const running = filesUnder(dataDir);
    assert.ok([...running.keys()].some((p) => p.endsWith('-wal')), `the WAL is read too: ${[...running.keys()].join(', ')}`);
    for (const [path, text] of running) {
      assertNoSecret(text, all, path);
      if (!path.endsWith(WEBHOOK_SECRET_FILE)) assertNoSecret(text, { webhookServerSecret: serverSecret }, path);
    }
    assert.ok([...running.values()].some((text) => text.includes(keyHash)), "the key's hash is in the bytes searched: the search reads the store");

    await tollgate.close();
    const closed = filesUnder(dataDir);
    for (const [path, text] of closed) {
      assertNoSecret(text, all, path);
      if (!path.endsWith(WEBHOOK_SECRET_FILE)) assertNoSecret(text, { webhookServerSecret: serverSecret }, path);
    }
    assert.ok(closed.get(join(dataDir, 'tollgate.db'))!.includes(keyHash));
    assert.match(closed.get(join(dataDir, ADMIN_TOKEN_FILE))!, /^[0-9a-f]{64}\n$/, 'the admin token file holds a SHA-256 hash');
    // The one secret kept in clear, as it must be to sign: readable by the server's user alone.
    assert.equal(statSync(join(dataDir, WEBHOOK_SECRET_FILE)).mode & 0o777, 0o600);
  } finally {
    await tollgate.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
