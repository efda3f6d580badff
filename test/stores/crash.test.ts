import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crashUnderLoad } from '../helpers/crash-load.js';
import { spawnServer } from '../helpers/process.js';
import { ADMIN_TOKEN } from '../helpers/server.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-crash-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

test('embedded store: kill -9 at ten random moments under checks, event batches and grants loses nothing acknowledged, counts nothing twice, and keeps the credit balance exact', { timeout: 240_000 }, async (t) => {
  const result = await crashUnderLoad({ start: () => spawnServer(dataDir, { env: { TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN } }), rounds: 10, counterExactAfterKill: true });
  t.diagnostic(`${result.acknowledged} units acknowledged, ${result.unanswered} calls in flight at the kills, ${result.units} recorded after retries`);
});
